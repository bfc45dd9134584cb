"""The AWS CDK app that deploys the cloud relay (docs/DEPLOYMENT.md)."""
