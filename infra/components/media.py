"""The media bucket: ciphertext only (encrypted event thumbnails, remote live and playback parts).

Private: public access blocked, SSE-S3, TLS-only bucket policy. Devices read only through the
CloudFront distribution that serves the PWA (components/web.py: origin access control, URLs
signed by the relay), same-origin, so the bucket has no CORS rule; recorders upload with
presigned POSTs from a process, which CORS does not concern. Objects expire by prefix:
thumbnails after days, media session parts after a day (a session lasts minutes; the rule is
the backstop if the recorder never cleans up).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

THUMBNAILS_PREFIX = "thumbnails/"
MEDIA_SESSIONS_PREFIX = "media/"


class MediaStorage(Construct):
    """Exposes `bucket` and `access_logs` (the bucket its server access logs go to)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        thumbnail_days: int,
        media_session_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=cdk.Duration.days(90))],
            removal_policy=removal_policy,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="media/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-thumbnails",
                    prefix=THUMBNAILS_PREFIX,
                    expiration=cdk.Duration.days(thumbnail_days),
                ),
                s3.LifecycleRule(
                    id="expire-media-sessions",
                    prefix=MEDIA_SESSIONS_PREFIX,
                    expiration=cdk.Duration.days(media_session_days),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
            ],
            removal_policy=removal_policy,
        )
