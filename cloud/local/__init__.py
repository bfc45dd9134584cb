"""The local relay host (`skycam relay`): the same Chalice app on one machine, with API
Gateway's WebSocket behaviour and limits, SQLite and files for storage."""
