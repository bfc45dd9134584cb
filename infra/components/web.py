"""The PWA and the remote media behind one CloudFront distribution.

The PWA's files sit in a private bucket read through origin access control; every answer carries
security headers (HSTS, a CSP that lets the PWA talk only to itself and the relay's APIs, no
framing, no sniffing). The relay's REST API answers on the same origin: `/v1/*` and
`/.well-known/skycam-relay` go to API Gateway (nothing cached, every viewer header but Host
forwarded), so the PWA calls `/v1/...` as it does on the local relay host, invitation links name
this one address, and the PWA learns the WebSocket URL from the relay itself. Those requests
carry the edge key (components/secrets.py), so the relay takes the viewer's address from
CloudFront's header and not from anyone's. Remote media
(`media/*`) and event thumbnails (`thumbnails/*`) are paths of the same distribution, served from
the media bucket (origin access control: the bucket answers CloudFront only) to requests signed
with a key of the distribution's key group: the relay signs each device's links with the private
half, which lives in Secrets Manager (cloud/chalicelib/media/cloudfront_links.py). Same origin
as the PWA: no CORS anywhere.
Other paths are the PWA's files; a path without a file extension is one of the app's routes
(history mode) and gets the app shell, rewritten at the edge so API errors stay errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloud.chalicelib.edge import EDGE_HEADER

from ..nag import acknowledge
from .media import MEDIA_SESSIONS_PREFIX, THUMBNAILS_PREFIX

RELAY_PATHS = ("/v1/*", "/.well-known/skycam-relay")
"""Paths of the distribution that the relay's REST API answers."""

# CloudFront Functions (cloudfront-js-2.0) on the PWA's behavior: an app route gets the shell.
APP_SHELL_FUNCTION = """function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""


def content_security_policy(connect_sources: Sequence[str]) -> str:
    connect = " ".join(["'self'", *connect_sources])
    return (
        "default-src 'self'; "
        f"connect-src {connect}; "
        "img-src 'self' blob: data:; media-src 'self' blob:; worker-src 'self' blob:; "
        "script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    )


class WebDistribution(Construct):
    """Exposes `site_bucket`, `distribution`, `app_shell`, `key_group`, `public_key` and
    `headers`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        media_bucket: s3.IBucket,
        media_public_key_pem: str,
        api_domain: str,
        api_stage: str,
        edge_secret: secretsmanager.ISecret,
        connect_sources: Sequence[str],
        access_logs: s3.IBucket,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.site_bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="site/",
            removal_policy=removal_policy,
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="SkyCam PWA security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365),
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect_sources), override=True
                ),
            ),
        )
        self.public_key = cloudfront.PublicKey(
            self,
            "MediaKey",
            encoded_key=media_public_key_pem,
            comment="SkyCam remote media: signed URLs (private half in Secrets Manager)",
        )
        self.key_group = cloudfront.KeyGroup(self, "MediaKeys", items=[self.public_key])
        media_origin = origins.S3BucketOrigin.with_origin_access_control(media_bucket)
        media_behavior = cloudfront.BehaviorOptions(
            origin=media_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            # Nothing cached: a live playlist is rewritten every second and a thumbnail when its
            # event improves it, under the same key; each session's parts have one viewer. With
            # no query string in the cache policy none reaches S3 (nor its access log).
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            trusted_key_groups=[self.key_group],
            response_headers_policy=self.headers,
        )
        relay_origin = origins.HttpOrigin(
            api_domain,
            origin_path=f"/{api_stage}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            # A dynamic reference: CloudFormation resolves it, the template holds only its name.
            custom_headers={EDGE_HEADER: edge_secret.secret_value.unsafe_unwrap()},
        )
        relay_behavior = cloudfront.BehaviorOptions(
            origin=relay_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            # Nothing cached; with caching off, this policy forwards Authorization too, and
            # API Gateway needs its own Host header.
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers,
        )
        self.app_shell = cloudfront.Function(
            self,
            "AppShell",
            code=cloudfront.FunctionCode.from_inline(APP_SHELL_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="SkyCam PWA: an app route (no file extension) gets index.html",
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="SkyCam PWA and remote media",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.site_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.app_shell,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            additional_behaviors={
                **{path: relay_behavior for path in RELAY_PATHS},
                f"{MEDIA_SESSIONS_PREFIX}*": media_behavior,
                f"{THUMBNAILS_PREFIX}*": media_behavior,
            },
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix="cloudfront/",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        # Origin access control lets this distribution GET objects; with ListBucket too, S3 tells
        # it that a missing key is missing (404, as the local host answers: the player waits for
        # an object not uploaded yet, or gone) instead of hiding it behind a 403. CloudFront asks
        # S3 only for object keys under media/ and thumbnails/ (no query string reaches S3), so
        # this lists nothing.
        media_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[media_bucket.bucket_arn],
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                conditions={"StringEquals": {"AWS:SourceArn": self.distribution.distribution_arn}},
            )
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The distribution answers on CloudFront's default *.cloudfront.net certificate, whose "
            "TLS floor CloudFront fixes (a minimum protocol version needs a certificate of "
            "one's own: a domain and an ACM certificate in us-east-1, docs/DEPLOYMENT.md)",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Owners and their invitees watch their cameras from wherever they travel; every "
            "media object needs a signed URL anyway",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "WAF costs at least $5 a month plus per-request fees, more than the whole relay for "
            "a single owner; the site is static files and media behind signed URLs",
        )
