"""The relay's stack: wires the components together and does every grant.

Each component is a Construct that makes its resources and exposes them; none grants anything.
Here the relay's Lambda role receives exactly what the relay's adapters call: item reads and
writes on its table (no scans, no table management), object reads and writes in the media bucket,
reads of its secrets, and posting to its own WebSocket connections.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cloud.chalicelib.config import RelayConfig

from .components.alarms import RelayAlarms
from .components.data import RelayData
from .components.media import MediaStorage
from .components.relay import API_STAGE, REST_API_NAME, RelayApi
from .components.secrets import RelaySecrets
from .components.web import WebDistribution
from .nag import acknowledge
from .relay_settings import relay_environment
from .stages import Stage

RELAY_SOURCE = Path(__file__).resolve().parent.parent / "cloud"

# What `DynamoItemStore` calls, and nothing else.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
# What `S3ObjectStore` calls (presigned GETs are signed with the role's own GetObject right).
BUCKET_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")


class RelayStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stage: Stage,
        relay_source: Path = RELAY_SOURCE,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.stage = stage
        self.secrets = RelaySecrets(
            self, "Secrets", removal_policy=stage.removal_policy, log_retention=stage.log_retention
        )
        self.data = RelayData(self, "Data", removal_policy=stage.removal_policy)
        self.media = MediaStorage(
            self,
            "Media",
            cors_origins=stage.cors_origins,
            thumbnail_days=stage.thumbnail_days,
            media_session_days=stage.media_session_days,
            removal_policy=stage.removal_policy,
        )
        self.role = iam.Role(
            self,
            "RelayRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="The SkyCam relay's Lambdas",
        )
        self.relay_config = replace(
            RelayConfig(),
            storage="dynamodb",
            table=self.data.table.table_name,
            bucket=self.media.bucket.bucket_name,
            signing_secret=self.secrets.signing_secret.secret_arn,
            vapid_secret=self.secrets.vapid_secret.secret_arn,
            open_signup=stage.open_signup,
        )
        self.relay = RelayApi(
            self,
            "Relay",
            source_dir=relay_source,
            environment=relay_environment(self.relay_config),
            role=self.role,
            log_retention=stage.log_retention,
        )
        self.web = WebDistribution(
            self,
            "Web",
            media_bucket=self.media.bucket,
            media_public_key_pem=self.secrets.cloudfront_public_key_pem,
            api_origins=[_origin(self.relay.rest_url), _origin(self.relay.websocket_url)],
            access_logs=self.media.access_logs,
            removal_policy=stage.removal_policy,
        )
        self.alarms = RelayAlarms(
            self,
            "Alarms",
            function_names=self.relay.function_names,
            rest_api_name=REST_API_NAME,
            api_stage=API_STAGE,
            websocket_api_id=self.relay.websocket_api_id,
            budget_usd=stage.budget_usd,
            email=stage.alarm_email,
            key=self.secrets.key,
        )
        self._grant()
        self._outputs()

    def _grant(self) -> None:
        self.data.table.grant(self.role, *TABLE_ACTIONS)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(BUCKET_ACTIONS), resources=[self.media.bucket.arn_for_objects("*")]
            )
        )
        for secret in (
            self.secrets.signing_secret,
            self.secrets.vapid_secret,
            self.secrets.cloudfront_secret,
        ):
            secret.grant_read(self.role)
        # Built from pseudo parameters, not `format_arn`: the policy then reads the same whether
        # the CLI pins the stack to an account and region or not, and so does its nag finding.
        connections = (
            f"arn:{cdk.Aws.PARTITION}:execute-api:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
            f"{self.relay.websocket_api_id}/{API_STAGE}"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["execute-api:ManageConnections"],
                resources=[
                    f"{connections}/{method}/@connections/*" for method in ("POST", "DELETE")
                ],
            )
        )
        policy = self.role.node.find_child("DefaultPolicy")
        media_objects = self.resolve(self.media.bucket.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{media_objects}.Arn>/*]",
            "Media objects are named per recorder, camera and session at run time; the role "
            "may read, write and delete objects of this one bucket, nothing else of it",
        )
        for method in ("POST", "DELETE"):
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
                f"<AWS::AccountId>:<WebsocketAPI>/{API_STAGE}/{method}/@connections/*]",
                "Connection ids are made by API Gateway at run time; the right covers only "
                "this API's own connections (send and close)",
            )

    def _outputs(self) -> None:
        outputs = {
            "RelayUrl": self.relay.rest_url,
            "RelayWebSocketUrl": self.relay.websocket_url,
            "PwaUrl": f"https://{self.web.distribution.distribution_domain_name}/",
            "SiteBucket": self.web.site_bucket.bucket_name,
            "DistributionId": self.web.distribution.distribution_id,
            "MediaBucket": self.media.bucket.bucket_name,
            "MediaKeyPairId": self.web.public_key.public_key_id,
            "CloudFrontKeySecret": self.secrets.cloudfront_secret.secret_arn,
            "VapidSecret": self.secrets.vapid_secret.secret_arn,
            "VapidPublicKeyPem": self.secrets.vapid_public_key_pem,
            "AlarmTopic": self.alarms.topic.topic_arn,
        }
        for name, value in outputs.items():
            cdk.CfnOutput(self, name, value=value)


def _origin(url: str) -> str:
    """`https://host/stage/` -> `https://host` (CSP sources are origins)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"
