"""The relay's settings, read once from the environment into a frozen dataclass.

In AWS, infra/ sets these as the Lambda's environment variables; the local relay host sets
them from its command line. Unknown `SKYCAM_RELAY_*` variables are refused, so a typo fails
at start instead of silently keeping a default. docs/ref/relay.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from .errors import RelayError

PREFIX = "SKYCAM_RELAY_"
LAMBDA_BUDGET_S = 26  # of the handler's 29 s timeout, the rest for the store and the answer


class ConfigError(RelayError):
    pass


@dataclass(frozen=True)
class RelayConfig:
    storage: str = "dynamodb"
    """`dynamodb` (table `table`, bucket `bucket`) or `local` (SQLite and files in `data_dir`)."""
    table: str = "skycam-relay"
    bucket: str = ""
    data_dir: str = ""
    signing_secret: str = ""
    """Secrets Manager secret id (AWS) holding the token-signing key; locally the key lives in
    `data_dir`/signing.key (generated, 0600)."""
    vapid_secret: str = ""
    """Secrets Manager secret id (AWS) holding the relay's VAPID key pair (JSON, made at deploy
    by infra/); locally the key lives in `data_dir`/vapid.pem (generated, 0600)."""
    push_subject: str = "mailto:relay@skycam.invalid"
    """VAPID `sub` claim: a contact for push services (mailto: or https:)."""
    push_per_minute: int = 12_000
    """Notifications a recorder may hand over per minute (beyond: answered retry_later)."""
    push_attempts: int = 3
    """Tries for a 429 or 5xx answer before the recorder is told retry_later."""
    push_timeout_s: int = 5
    """Per request to a push service."""
    push_backoff_cap_s: int = 4
    """Longest wait between tries (a push service's Retry-After included). In AWS a delivery
    runs in the message's own Lambda invocation (29 s): attempts x timeout + (attempts - 1) x
    cap must stay under it (checked at start)."""
    push_dedupe_s: int = 7 * 86400
    """How long an (event, endpoint) delivery is remembered, so a resend is not pushed twice."""
    push_workers: int = 32
    """Local host only: deliveries in flight at once (AWS: one Lambda invocation each)."""
    push_allow_loopback: bool = False
    """Tests and the bench only: deliver to http:// endpoints on 127.0.0.0/8 and ::1."""
    open_signup: bool = False
    """False: a cloud account is created only with a live invitation id registered by a recorder."""
    access_token_s: int = 900
    refresh_token_s: int = 30 * 86400
    ticket_s: int = 30
    challenge_s: int = 60
    invitation_max_s: int = 7 * 86400
    session_s: int = 3 * 3600
    """How long a brokered session's routing entry lives without being closed (beyond the 2 h
    connection cap, so a live session never expires under its parties)."""
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_window_s: int = 900
    opens_per_minute: int = 60
    messages_per_minute: int = 6000
    """Per account, all of its sessions together (about 100 messages a second)."""
    max_message_bytes: int = 32 * 1024
    audit_days: int = 90
    media_upload_s: int = 300
    """How long a recorder's upload rights for one media session prefix last (renewed while a
    viewer renews its lease; each renewal checks the grant again)."""
    media_link_s: int = 60
    """How long a device's signed download link lasts."""
    media_links: str = "store"
    """Who signs devices' download links: `store`, the object store, one link per object (the
    local host's HMAC links; S3 presigned GETs); `cloudfront` (AWS, set by infra/): CloudFront
    signed URLs, one signature per media session prefix, fetched through the distribution that
    serves the PWA (needs the next two settings)."""
    cloudfront_key_secret: str = ""
    """Secrets Manager id of the CloudFront signing key pair (JSON `private_key_pem`, made at
    deploy by infra/)."""
    cloudfront_key_pair_id: str = ""
    """The id of that key pair's CloudFront public key (in the distribution's key group)."""
    media_session_max_s: int = 6 * 3600
    """A media session's record expires after this, renewed or not (the viewer asks again)."""
    media_object_max_bytes: int = 64 * 1024 * 1024
    """Largest media object (a part, a playback segment, a clip) an upload right allows."""
    thumbnail_max_bytes: int = 512 * 1024
    """Largest encrypted event thumbnail."""
    media_keep_s: int = 86400
    """Local host: media session objects are deleted this long after they were written (S3:
    the bucket's lifecycle rule, in days)."""
    thumbnail_keep_s: int = 30 * 86400
    """Local host: thumbnails are deleted this long after they were written."""
    websocket_url: str = ""
    """The WebSocket URL devices connect to, answered at `GET /.well-known/skycam-relay` (AWS:
    the WebSocket API's stage URL, set by infra/; the local host answers with its own listener).
    Empty: that route answers 404."""
    edge_secret: str = ""
    """Secrets Manager id (AWS) of the string the CloudFront distribution adds to each request it
    forwards (`X-SkyCam-Edge`): only such a request's `CloudFront-Viewer-Address` is taken as
    the client's address (throttling, audit). Empty (the local host): the source address."""


_ENV_NAMES = {f"{PREFIX}{f.name.upper()}": f for f in fields(RelayConfig)}


def load_config(env: Mapping[str, str]) -> RelayConfig:
    values: dict[str, object] = {}
    for name, raw in env.items():
        if not name.startswith(PREFIX):
            continue
        field = _ENV_NAMES.get(name)
        if field is None:
            raise ConfigError(f"unknown setting {name}")
        if field.type == "bool":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ConfigError(f"{name} must be true or false, not {raw!r}")
            values[field.name] = raw.lower() in ("true", "1")
        elif field.type == "int":
            try:
                values[field.name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{name} must be an integer, not {raw!r}") from exc
            if values[field.name] <= 0:  # type: ignore[operator]
                raise ConfigError(f"{name} must be positive")
        else:
            values[field.name] = raw
    config = RelayConfig(**values)  # type: ignore[arg-type]
    if config.storage not in ("dynamodb", "local"):
        raise ConfigError(f"{PREFIX}STORAGE must be dynamodb or local, not {config.storage!r}")
    if config.storage == "local" and not config.data_dir:
        raise ConfigError(f"{PREFIX}DATA_DIR is needed with local storage")
    worst = config.push_attempts * config.push_timeout_s
    worst += (config.push_attempts - 1) * config.push_backoff_cap_s
    if config.storage == "dynamodb" and worst > LAMBDA_BUDGET_S:
        raise ConfigError(f"push tries could take {worst} s, over the Lambda's {LAMBDA_BUDGET_S} s")
    if config.media_links not in ("store", "cloudfront"):
        raise ConfigError(f"{PREFIX}MEDIA_LINKS must be store or cloudfront")
    if config.media_links == "cloudfront" and (
        config.storage == "local"
        or not config.cloudfront_key_secret
        or not config.cloudfront_key_pair_id
    ):
        raise ConfigError(
            f"{PREFIX}MEDIA_LINKS=cloudfront needs AWS storage, {PREFIX}CLOUDFRONT_KEY_SECRET "
            f"and {PREFIX}CLOUDFRONT_KEY_PAIR_ID"
        )
    if config.websocket_url and not config.websocket_url.startswith(("wss://", "ws://")):
        raise ConfigError(f"{PREFIX}WEBSOCKET_URL must be a wss:// or ws:// URL")
    if not config.push_subject.startswith(("mailto:", "https://")):
        raise ConfigError(f"{PREFIX}PUSH_SUBJECT must be a mailto: or https: URL")
    return config
