"""Storage ports (items, objects) and their adapters: DynamoDB/S3 in AWS, SQLite/files locally."""
