"""The relay's stack: wires the components together and does every grant.

Each component is a Construct that makes its resources and exposes them; none grants anything.
Here the relay's Lambda role receives exactly what the relay's adapters call: item reads and
writes on its table (no scans, no table management), the object reads and writes its presigned
URLs stand for under the media bucket's two prefixes, reads of its secrets, and posting to its
own WebSocket connections.
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
from .components.media import MEDIA_SESSIONS_PREFIX, THUMBNAILS_PREFIX, MediaStorage
from .components.relay import API_STAGE, REST_API_NAME, RelayApi
from .components.secrets import RelaySecrets
from .components.web import WebDistribution
from .nag import acknowledge
from .relay_settings import env_name, relay_environment
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
# The relay never reads or writes media itself: it signs. A presigned POST (a recorder's upload)
# carries the role's PutObject right, and only under the prefixes the relay names keys in
# (cloud/chalicelib/media/keys.py). Devices read through CloudFront (its origin access control,
# with links the relay signs with the CloudFront key), so the role needs no GetObject. Objects
# are deleted by the bucket's lifecycle rules, not by the relay: no DeleteObject.
BUCKET_ACTIONS = ("s3:PutObject",)
BUCKET_PREFIXES = (MEDIA_SESSIONS_PREFIX, THUMBNAILS_PREFIX)
DAY_S = 86400


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
            edge_secret=self.secrets.edge_secret.secret_arn,
            media_links="cloudfront",
            cloudfront_key_secret=self.secrets.cloudfront_secret.secret_arn,
            open_signup=stage.open_signup,
            push_subject=_push_subject(stage),
            # What the local host deletes by age, the bucket's lifecycle rules expire here: one
            # figure each, so the relay's settings say what the bucket does.
            media_keep_s=stage.media_session_days * DAY_S,
            thumbnail_keep_s=stage.thumbnail_days * DAY_S,
        )
        self.relay = RelayApi(
            self,
            "Relay",
            source_dir=relay_source,
            environment=relay_environment(self.relay_config),
            role=self.role,
            log_retention=stage.log_retention,
        )
        # The relay's own WebSocket URL exists only with its API: set once the construct is made
        # (it answers it at /.well-known/skycam-relay, which CloudFront forwards to it).
        self.relay_config = replace(self.relay_config, websocket_url=self.relay.websocket_url)
        self.relay.add_environment(env_name("websocket_url"), self.relay_config.websocket_url)
        self.web = WebDistribution(
            self,
            "Web",
            media_bucket=self.media.bucket,
            media_public_key_pem=self.secrets.cloudfront_public_key_pem,
            api_domain=self.relay.rest_domain,
            api_stage=API_STAGE,
            edge_secret=self.secrets.edge_secret,
            # Media comes from the distribution itself ('self'); only the WebSocket is elsewhere.
            connect_sources=[_origin(self.relay.websocket_url)],
            access_logs=self.media.access_logs,
            removal_policy=stage.removal_policy,
        )
        # The relay signs media links for the key group's public key (its private half is in
        # the CloudFront key secret); the key exists only with the distribution's construct.
        self.relay_config = replace(
            self.relay_config, cloudfront_key_pair_id=self.web.public_key.public_key_id
        )
        self.relay.add_environment(
            env_name("cloudfront_key_pair_id"), self.relay_config.cloudfront_key_pair_id
        )
        self.public_url = f"https://{self.web.distribution.distribution_domain_name}"
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
                actions=list(BUCKET_ACTIONS),
                resources=[self.media.bucket.arn_for_objects(f"{p}*") for p in BUCKET_PREFIXES],
            )
        )
        for secret in (
            self.secrets.signing_secret,
            self.secrets.edge_secret,
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
        for prefix in BUCKET_PREFIXES:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{media_objects}.Arn>/{prefix}*]",
                "Media objects are named per recorder, camera and session at run time; the role "
                f"may presign uploads under {prefix} of this one bucket, nothing else",
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
            # The relay's public address (the recorder's `[relay] url`): the PWA, its REST API
            # under /v1 and the invitation links all name it.
            "RelayUrl": self.public_url,
            "RelayWebSocketUrl": self.relay.websocket_url,
            "PwaUrl": f"{self.public_url}/",
            "ApiUrl": self.relay.rest_url,
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


def _push_subject(stage: Stage) -> str:
    """VAPID's `sub`: a contact push services can reach (some refuse a made-up one)."""
    if stage.alarm_email:
        return f"mailto:{stage.alarm_email}"
    if stage.pwa_domain:
        return f"https://{stage.pwa_domain}"
    return RelayConfig.push_subject


def _origin(url: str) -> str:
    """`https://host/stage/` -> `https://host` (CSP sources are origins)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"
