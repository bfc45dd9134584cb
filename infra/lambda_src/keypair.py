# The deploy-time key pair maker, run by CloudFormation as an inline Lambda (components/secrets.py).
# KMS generates the pair (no crypto here); the private key goes straight into the Secrets
# Manager secret as PEM, and only the public key travels back to CloudFormation.
import base64
import json

import boto3
import cfnresponse


def _pem(label, der):
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN " + label + "-----\n" + "\n".join(lines) + "\n-----END " + label + "-----\n"


def handler(event, context):
    props = event["ResourceProperties"]
    secret_id = props["SecretId"]
    physical = event.get("PhysicalResourceId", secret_id)
    try:
        if event["RequestType"] == "Delete":
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
            return
        secrets = boto3.client("secretsmanager")
        stored = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
        if event["RequestType"] == "Create" or "public_key_pem" not in stored:
            pair = boto3.client("kms").generate_data_key_pair(
                KeyId=props["KeyId"], KeyPairSpec=props["KeyPairSpec"]
            )
            stored = {
                "private_key_pem": _pem("PRIVATE KEY", pair["PrivateKeyPlaintext"]),
                "public_key_pem": _pem("PUBLIC KEY", pair["PublicKey"]),
            }
            secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(stored))
        data = {"PublicKeyPem": stored["public_key_pem"]}
        cfnresponse.send(event, context, cfnresponse.SUCCESS, data, secret_id, noEcho=False)
    except Exception as exc:  # CloudFormation must hear back, or the stack hangs for an hour
        cfnresponse.send(event, context, cfnresponse.FAILED, {"Error": str(exc)[:200]}, physical)
