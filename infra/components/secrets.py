"""The relay's secrets, all generated at deploy time: nothing secret is in code or templates.

- the token-signing key: a Secrets Manager generated string (64 characters);
- the edge key: a generated string (48 characters) the CloudFront distribution adds to each
  request it forwards to the REST API, through a CloudFormation dynamic reference (the template
  names the secret, not its value), so the relay believes only CloudFront's viewer address;
- the VAPID key pair (ECDSA P-256) and the CloudFront signing key pair (RSA 2048): KMS's
  GenerateDataKeyPair, called by a small inline Lambda (lambda_src/keypair.py) that writes the
  private key into its secret as PEM and hands CloudFormation only the public key.
The KMS key only wraps the data key pairs' ciphertext copies (which we do not keep) and encrypts
these secrets.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from ..nag import acknowledge

_KEYPAIR_SOURCE = Path(__file__).parent.parent / "lambda_src" / "keypair.py"
KEYPAIR_RUNTIME = lambda_.Runtime.PYTHON_3_14

_NO_ROTATION = (
    "Rotated by redeploying a new secret (docs/DEPLOYMENT.md): the signing key would end every "
    "session, the edge key is copied into CloudFront only by a deploy, and a key pair's public "
    "half lives in CloudFront and in every push subscription, so an automatic rotation Lambda "
    "would break them"
)


class RelaySecrets(Construct):
    """Exposes `key` (KMS), `signing_secret`, `edge_secret`, `vapid_secret`,
    `vapid_public_key_pem`, `cloudfront_secret` and `cloudfront_public_key_pem`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        removal_policy: cdk.RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description="SkyCam relay: encrypts its secrets and wraps deploy-time key pairs",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningKey",
            description="SkyCam relay token-signing key (generated at deploy)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        self.edge_secret = secretsmanager.Secret(
            self,
            "EdgeKey",
            description="SkyCam relay edge key: CloudFront's proof to the REST API "
            "(generated at deploy)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        self._keypair_fn = self._keypair_function(log_retention)
        self.vapid_secret, self.vapid_public_key_pem = self._key_pair(
            "Vapid", "ECC_NIST_P256", "VAPID key pair for Web Push", removal_policy
        )
        self.cloudfront_secret, self.cloudfront_public_key_pem = self._key_pair(
            "CloudFrontKey", "RSA_2048", "CloudFront signing key pair (media links)", removal_policy
        )
        for secret in (
            self.signing_secret,
            self.edge_secret,
            self.vapid_secret,
            self.cloudfront_secret,
        ):
            acknowledge(secret, "AwsSolutions-SMG4", _NO_ROTATION)

    def _keypair_function(self, log_retention: logs.RetentionDays) -> lambda_.Function:
        log_group = logs.LogGroup(self, "KeyPairLogs", retention=log_retention)
        role = iam.Role(
            self, "KeyPairRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "KeyPairMaker",
            runtime=KEYPAIR_RUNTIME,
            handler="index.handler",
            code=lambda_.Code.from_inline(_KEYPAIR_SOURCE.read_text()),
            timeout=cdk.Duration.seconds(30),
            role=role,
            log_group=log_group,
        )
        self.key.grant(role, "kms:GenerateDataKeyPair")
        self._keypair_role = role
        return function

    def _key_pair(
        self, id: str, spec: str, description: str, removal_policy: cdk.RemovalPolicy
    ) -> tuple[secretsmanager.Secret, str]:
        secret = secretsmanager.Secret(
            self,
            id,
            description=f"SkyCam relay {description} (generated at deploy by KMS)",
            encryption_key=self.key,
            # A placeholder JSON object; the key pair maker replaces it on create.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}", generate_string_key="placeholder"
            ),
            removal_policy=removal_policy,
        )
        secret.grant_read(self._keypair_fn)
        secret.grant_write(self._keypair_fn)
        pair = cdk.CustomResource(
            self,
            f"{id}Pair",
            service_token=self._keypair_fn.function_arn,
            properties={
                "SecretId": secret.secret_arn,
                "KeyId": self.key.key_arn,
                "KeyPairSpec": spec,
            },
        )
        # The maker must hold its grants before CloudFormation calls it.
        pair.node.add_dependency(self._keypair_role)
        return secret, pair.get_att_string("PublicKeyPem")
