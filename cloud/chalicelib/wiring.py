"""Builds the relay's services from its config: DynamoDB/S3/Secrets Manager in AWS, SQLite and
files on the local host. app.py calls `build_relay` once per Lambda instance (lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .accounts.service import AccountService
from .accounts.throttle import LoginThrottle
from .accounts.tokens import TokenSigner
from .audit.log import AuditLog
from .clock import Clock, SystemClock
from .config import ConfigError, RelayConfig
from .console.views import ConsoleViews
from .grants.grants import GrantStore
from .invitations.registry import InvitationRegistry
from .media.links import LinkSigner, StoreLinks
from .media.service import MediaLimits, MediaService
from .media.uploads import LocalUploadSigner, UploadSigner
from .push.delivery import DeliveryPolicy, PushDelivery
from .push.relay import PushRelay, Runner, run_inline
from .push.vapid import FileVapid, SecretsManagerVapid, VapidSigner, VapidSource
from .recorders.registry import RecorderRegistry
from .signing_keys import FileSecret, SecretsManagerSecret, SecretSource
from .storage.items import ItemStore
from .storage.local_objects import LocalObjectStore
from .storage.objects import ObjectStore
from .tickets.tickets import TicketOffice
from .tunnel.connections import ConnectionTable
from .tunnel.ratelimit import AccountRateLimiter
from .tunnel.router import Router
from .tunnel.sender import Sender
from .tunnel.sessions import SessionTable

LOCAL_DB = "relay.db"
LOCAL_KEY = "signing.key"
LOCAL_OBJECTS = "objects"
LOCAL_OBJECTS_KEY = "objects.key"  # signs download URLs
LOCAL_UPLOADS_KEY = "uploads.key"  # signs upload policies
LOCAL_VAPID = "vapid.pem"


@dataclass(frozen=True)
class Relay:
    config: RelayConfig
    items: ItemStore
    accounts: AccountService
    recorders: RecorderRegistry
    grants: GrantStore
    tickets: TicketOffice
    audit: AuditLog
    console: ConsoleViews
    router: Router
    media: MediaService
    push: PushRelay


def storage_for(config: RelayConfig, clock: Clock) -> tuple[ItemStore, SecretSource]:
    if config.storage == "local":
        from .storage.sqlite_items import SqliteItemStore

        data = Path(config.data_dir)
        return SqliteItemStore(data / LOCAL_DB, clock), FileSecret(data / LOCAL_KEY)
    import boto3

    from .storage.dynamo_items import DynamoItemStore

    session: Any = boto3.session.Session()
    items = DynamoItemStore(session.client("dynamodb"), config.table, clock)
    return items, SecretsManagerSecret(session.client("secretsmanager"), config.signing_secret)


def media_storage_for(config: RelayConfig, clock: Clock) -> tuple[ObjectStore, UploadSigner]:
    """The media bucket in AWS; files in `data_dir` locally (the local host passes its own,
    whose URLs name its REST port; without it, URLs are relative to the relay's REST URL)."""
    if config.storage == "local":
        return local_media_storage(Path(config.data_dir), "", clock)
    import boto3

    from .media.s3_uploads import S3UploadSigner
    from .storage.s3_objects import S3ObjectStore

    session: Any = boto3.session.Session()
    if not session.region_name:  # Lambda sets AWS_REGION; elsewhere it must be given
        raise ConfigError("no AWS region: set AWS_DEFAULT_REGION to the media bucket's region")
    client = session.client("s3", config=s3_presign_config())
    return S3ObjectStore(client, config.bucket), S3UploadSigner(client, config.bucket, clock)


def s3_presign_config() -> Any:
    """SigV4 (every region takes it, some only it; its URLs carry their expiry) on the bucket's
    regional virtual host (`BUCKET.s3.REGION.amazonaws.com`). botocore's default is the global
    host `BUCKET.s3.amazonaws.com`, which S3 answers for a bucket outside us-east-1 with a 307
    to the regional one until DNS catches up (up to a day after the bucket is made): a browser
    or form POST does not follow that with its body and CORS intact."""
    from botocore.config import Config

    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    )


def local_media_storage(
    data: Path, base_url: str, clock: Clock
) -> tuple[LocalObjectStore, LocalUploadSigner]:
    objects = LocalObjectStore(
        data / LOCAL_OBJECTS, base_url, FileSecret(data / LOCAL_OBJECTS_KEY).signing_key(), clock
    )
    uploads = LocalUploadSigner(base_url, FileSecret(data / LOCAL_UPLOADS_KEY).signing_key(), clock)
    return objects, uploads


def links_for(config: RelayConfig, objects: ObjectStore, clock: Clock) -> LinkSigner:
    if config.media_links == "cloudfront":
        import boto3

        from .media.cloudfront_links import CloudFrontLinks, SecretsManagerRsaKey

        secrets = boto3.session.Session().client("secretsmanager")
        key = SecretsManagerRsaKey(secrets, config.cloudfront_key_secret)
        return CloudFrontLinks(config.cloudfront_key_pair_id, key, clock)
    return StoreLinks(objects)


def media_limits(config: RelayConfig) -> MediaLimits:
    return MediaLimits(
        upload_s=config.media_upload_s,
        link_s=config.media_link_s,
        session_max_s=config.media_session_max_s,
        object_max_bytes=config.media_object_max_bytes,
        thumbnail_max_bytes=config.thumbnail_max_bytes,
    )


def vapid_for(config: RelayConfig) -> VapidSource:
    if config.storage == "local":
        return FileVapid(Path(config.data_dir) / LOCAL_VAPID)
    import boto3

    return SecretsManagerVapid(
        boto3.session.Session().client("secretsmanager"), config.vapid_secret
    )


def build_relay(
    config: RelayConfig,
    sender: Sender,
    *,
    clock: Clock | None = None,
    items: ItemStore | None = None,
    secret: SecretSource | None = None,
    objects: ObjectStore | None = None,
    uploads: UploadSigner | None = None,
    links: LinkSigner | None = None,
    vapid: VapidSource | None = None,
    push_runner: Runner | None = None,
) -> Relay:
    """`push_runner` runs a push message's deliveries (default: in the message's own
    invocation, waited for, as in AWS where every message is a Lambda invocation)."""
    clock = clock or SystemClock()
    if items is None or secret is None:
        default_items, default_secret = storage_for(config, clock)
        items, secret = items or default_items, secret or default_secret
    if objects is None or uploads is None:
        default_objects, default_uploads = media_storage_for(config, clock)
        objects, uploads = objects or default_objects, uploads or default_uploads
    audit = AuditLog(items, clock, config.audit_days)
    invitations = InvitationRegistry(items, clock, config.invitation_max_s)
    throttle = LoginThrottle(
        items,
        clock,
        config.login_failures_per_account,
        config.login_failures_per_address,
        config.login_window_s,
    )
    accounts = AccountService(
        items,
        clock,
        TokenSigner(secret, clock, config.access_token_s),
        throttle,
        invitations,
        audit,
        open_signup=config.open_signup,
        refresh_s=config.refresh_token_s,
    )
    recorders = RecorderRegistry(items, clock, audit, config.challenge_s)
    grants = GrantStore(items, clock)
    links = links or links_for(config, objects, clock)
    limits = media_limits(config)
    media = MediaService(items, clock, grants, accounts, links, uploads, audit, limits)
    tickets = TicketOffice(items, clock, config.ticket_s)
    limiter = AccountRateLimiter(items, clock)
    delivery = PushDelivery(
        VapidSigner(vapid or vapid_for(config), config.push_subject),
        DeliveryPolicy(
            attempts=config.push_attempts,
            timeout_s=config.push_timeout_s,
            backoff_cap_s=config.push_backoff_cap_s,
            allow_loopback=config.push_allow_loopback,
            pool_size=config.push_workers,
        ),
    )
    push = PushRelay(
        items,
        clock,
        recorders,
        limiter,
        sender,
        delivery,
        push_runner or run_inline,
        per_minute=config.push_per_minute,
        dedupe_s=config.push_dedupe_s,
    )
    router = Router(
        config,
        ConnectionTable(items, clock, config.session_s),
        SessionTable(items, clock, config.session_s),
        recorders,
        grants,
        invitations,
        tickets,
        accounts,
        limiter,
        audit,
        sender,
        media,
        push,
    )
    console = ConsoleViews(recorders, accounts, grants, audit)
    return Relay(
        config, items, accounts, recorders, grants, tickets, audit, console, router, media, push
    )
