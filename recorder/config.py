"""The recorder's configuration file (TOML), parsed and validated once into frozen models.

Every field documents its default; docs/ref/config.md mirrors this module. Unknown keys,
malformed URLs and impossible values are rejected with a message that names the field.
Runtime changes made later through the API persist in SQLite, not in this file.
"""

from __future__ import annotations

import ipaddress
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from recorder.errors import ConfigError
from recorder.motion.config import EventsConfig, MotionConfig
from recorder.onvif.config import OnboardingConfig, OnvifConfig
from recorder.push.config import PushConfig
from recorder.site import CAMERA_ID_RE


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordMode(StrEnum):
    CONTINUOUS = "continuous"
    MOTION = "motion"
    OFF = "off"


Percent = Annotated[float, Field(gt=0, lt=100)]


class StorageConfig(_Model):
    segment_seconds: Annotated[float, Field(ge=2, le=300)] = 10
    """Target segment length; segments are cut at the first keyframe after it (default 10 s)."""

    retention_days: Annotated[float, Field(gt=0)] | None = 30
    """Default days to keep recordings (default 30); cameras may override it; None: no limit."""

    high_water_percent: Percent = 90
    """Usage (of the filesystem or max_bytes) above which the oldest go (default 90)."""

    low_water_percent: Percent = 85
    """Space-driven deletion stops below this usage (default 85)."""

    max_bytes: ByteSize | None = None
    """Optional cap on the bytes recordings may use, e.g. "500 GB"; percents apply to it too."""

    min_free_bytes: ByteSize | None = None
    """Optional bytes to keep free on the filesystem whatever the percents say, e.g. "5 GiB"."""

    clips_max_bytes: ByteSize = ByteSize(20 * 1024**3)
    """Quota for exported clips, which retention never deletes (default "20 GiB")."""

    retention_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30
    """How often retention runs (default 30 s); it also runs sooner once the segments recorded
    since the last pass could fill the room left below a high-water mark."""

    events_yield_to_space: bool = True
    """When nothing unprotected is left to delete, the oldest event footage is deleted so that
    recording goes on (default true). False: event footage is kept until its events expire
    and recording pauses when only it is left (docs/design/retention.md)."""

    watch_interval_s: Annotated[float, Field(ge=0.1, le=60)] = 2
    """How often, between retention passes, the filesystem's free space is read while cameras
    record (default 2 s): a disk filled or freed by another program is acted on this soon."""

    @model_validator(mode="after")
    def _water_marks_ordered(self) -> Self:
        if self.low_water_percent >= self.high_water_percent:
            raise ValueError("low_water_percent must be below high_water_percent")
        return self


class CaptureConfig(_Model):
    connect_timeout_s: Annotated[float, Field(ge=1, le=120)] = 10
    """Time allowed to open a stream (RTSP handshake and probing; default 10 s)."""

    read_timeout_s: Annotated[float, Field(ge=2, le=300)] = 20
    """No packets for this long means the camera is offline: reconnect (default 20 s)."""

    backoff_cap_s: Annotated[float, Field(ge=1, le=600)] = 30
    """Upper bound of the full-jitter exponential reconnect backoff (default 30 s)."""

    rtsp_transport: str = "tcp"
    """"tcp" (default: no packet loss on busy LANs) or "udp"."""

    max_drift_s: Annotated[float, Field(ge=0.5, le=60)] = 3
    """Arrival time and PTS disagreeing by more than this starts a new run (default 3 s)."""

    cpu: Literal["auto", "none"] | Annotated[int, Field(ge=0, le=4095)] = "auto"
    """The CPU the recording threads share (recorder/capture/affinity.py): "auto" (default,
    the highest-numbered CPU the recorder may use), "none" (the kernel places them), or a
    CPU number."""

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> object:
        valid_text = isinstance(value, str) and value in ("auto", "none")
        if not valid_text and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError('must be "auto", "none" or a CPU number')
        return value

    @field_validator("rtsp_transport")
    @classmethod
    def _transport(cls, value: str) -> str:
        if value not in ("tcp", "udp"):
            raise ValueError('must be "tcp" or "udp"')
        return value


class ApiConfig(_Model):
    https_host: str = "0.0.0.0"
    """Address of the HTTPS server for the LAN (default all interfaces)."""

    https: bool = True
    """Serve HTTPS for the LAN (default true)."""

    https_port: Annotated[int, Field(ge=0, le=65535)] = 8443
    """HTTPS port (default 8443; 0 picks a free port)."""

    http_host: str = "127.0.0.1"
    """Address of the plain-HTTP server; keep it on loopback (default 127.0.0.1)."""

    http: bool = True
    """Serve plain HTTP on `http_host` (default true)."""

    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    """Plain-HTTP port on `http_host` (default 8080; 0 picks a free port)."""

    access_token_ttl_s: Annotated[int, Field(ge=60, le=86_400)] = 900
    """Lifetime of access tokens (default 15 minutes)."""

    refresh_token_ttl_s: Annotated[int, Field(ge=3600, le=365 * 86_400)] = 30 * 86_400
    """Lifetime of a refresh token; each use issues a new one (default 30 days)."""

    trusted_proxies: Annotated[tuple[str, ...], Field(max_length=32)] = ()
    """Addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-For` and
    `X-Forwarded-Proto` are believed (default none: the client is the socket's peer, so no
    client can choose the address the login throttle and the audit log see)."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class RelayConfig(_Model):
    url: str | None = None
    """Base URL of the cloud relay (http:// or https://), e.g. "https://relay.example.com";
    unset (default): no remote access. Invitation links open the PWA at this URL."""

    ws_url: str | None = None
    """The relay's WebSocket URL (ws:// or wss://); default: `url` with a ws scheme + "/ws"."""

    heartbeat_s: Annotated[float, Field(ge=1, le=590)] = 540
    """Application heartbeat, inside the relay's 10-minute idle limit (default 9 minutes)."""

    connection_max_s: Annotated[float, Field(ge=2, le=7140)] = 6600
    """A new connection is opened after this long, before the relay's 2-hour cap
    (default 110 minutes); the old one keeps delivering for `rollover_drain_s`."""

    rollover_drain_s: Annotated[float, Field(ge=0.1, le=600)] = 10
    """How long the replaced connection stays open for messages still in flight (default 10 s)."""

    backoff_cap_s: Annotated[float, Field(ge=0.1, le=600)] = 5
    """Upper bound of the full-jitter reconnect backoff when the relay is away (default 5 s)."""

    connect_timeout_s: Annotated[float, Field(ge=1, le=120)] = 10
    """Time allowed for the challenge and the WebSocket handshake (default 10 s)."""

    invitation_ttl_s: Annotated[float, Field(ge=60, le=30 * 86_400)] = 86_400
    """How long an invitation link stays valid (default 24 hours)."""

    invitation_sync_s: Annotated[float, Field(ge=1, le=3600)] = 10
    """How often invitations made with `skycam invite` (another process) are registered with
    the relay (default 10 s); those made through the API are registered at once."""

    session_idle_s: Annotated[float, Field(ge=10, le=86_400)] = 1800
    """A tunnel session the device has not used for this long is ended (default 30 minutes);
    one subscribed to notices ends when the relay no longer knows it."""

    max_call_bytes: ByteSize = ByteSize(64 * 1024**2)
    """Largest request or response body carried through the tunnel (default "64 MiB")."""

    media_part_s: Annotated[float, Field(ge=0.2, le=10)] = 1.0
    """Remote live: length of each uploaded part, whatever the camera's GOP (default 1 s)."""

    media_ahead_s: Annotated[float, Field(ge=1, le=3600)] = 60
    """Remote playback: how far ahead of the device's playhead segments are uploaded
    (default 60 s)."""

    media_lease_s: Annotated[float, Field(ge=5, le=600)] = 20
    """A remote media session ends when its device has not renewed it for this long (default
    20 s); each renewal re-checks the user's right on the camera."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("http", "https"))

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("ws", "wss"))

    @model_validator(mode="after")
    def _ws_needs_url(self) -> Self:
        if self.ws_url and not self.url:
            raise ValueError("ws_url needs url")
        return self


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
    if parts.fragment or parts.query:
        raise ValueError("must not have a query or fragment")
    return value.rstrip("/")


def _check_stream_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("rtsp", "rtsps"):
        raise ValueError("must be an rtsp:// or rtsps:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"has a bad port: {exc}") from None
    return value


class CameraConfig(_Model):
    id: str
    """Stable identifier: lowercase letters, digits, '-' and '_' (used in paths and URLs)."""

    name: str = ""
    """Display name (default: the id)."""

    main_url: str
    """RTSP URL of the main (recording) stream. Credentials may be embedded or given below."""

    sub_url: str | None = None
    """RTSP URL of the substream (motion detection, mosaics); optional."""

    username: str | None = None
    """RTSP user name (default: the one embedded in the URL, if any)."""

    password: SecretStr | None = None
    """RTSP password; never logged or returned by the API."""

    enabled: bool = True
    """A disabled camera is neither captured nor shown live (default true)."""

    record_mode: RecordMode = RecordMode.CONTINUOUS
    """continuous (default), motion (keep only event ranges) or off."""

    retention_days: Annotated[float, Field(gt=0)] | None = None
    """Overrides storage.retention_days for this camera."""

    motion: MotionConfig = MotionConfig()
    """Motion detection for this camera (see docs/ref/config.md, [cameras.motion])."""

    onvif: OnvifConfig = OnvifConfig()
    """Where the camera's ONVIF service is, for ONVIF events and PTZ ([cameras.onvif])."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not CAMERA_ID_RE.match(value):
            raise ValueError("must be 1-63 of a-z, 0-9, '-', '_', starting with a letter or digit")
        return value

    @field_validator("main_url", "sub_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_stream_url(value)

    @model_validator(mode="after")
    def _credentials_out_of_urls(self) -> Self:
        # Keep secrets in one place: move userinfo embedded in URLs into username/password.
        parts = urlsplit(self.main_url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        password = self.password
        if password is None and parts.password:
            password = SecretStr(unquote(parts.password))
        object.__setattr__(self, "username", user)
        object.__setattr__(self, "password", password)
        object.__setattr__(self, "main_url", strip_credentials(self.main_url))
        if self.sub_url:
            object.__setattr__(self, "sub_url", strip_credentials(self.sub_url))
        if not self.name:
            object.__setattr__(self, "name", self.id)
        return self

    def stream_url(self, which: str = "main") -> str:
        """The URL with credentials embedded, for the RTSP client only: never log it."""
        base = self.main_url if which == "main" else (self.sub_url or self.main_url)
        if not self.username:
            return base
        parts = urlsplit(base)
        secret = self.password.get_secret_value() if self.password else ""
        userinfo = quote(self.username, safe="")
        if secret:
            userinfo += ":" + quote(secret, safe="")
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def strip_credentials(url: str) -> str:
    """The URL without user:password@, safe to log and to return from the API."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))


class RecorderConfig(_Model):
    data_dir: Path
    """Where recordings, the SQLite index and generated secrets live (required)."""

    storage: StorageConfig = StorageConfig()
    capture: CaptureConfig = CaptureConfig()
    events: EventsConfig = EventsConfig()
    api: ApiConfig = ApiConfig()
    onboarding: OnboardingConfig = OnboardingConfig()
    relay: RelayConfig = RelayConfig()
    push: PushConfig = PushConfig()
    cameras: tuple[CameraConfig, ...] = ()

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: tuple[CameraConfig, ...]) -> tuple[CameraConfig, ...]:
        seen: set[str] = set()
        for camera in cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id!r} appears twice")
            seen.add(camera.id)
        return cameras

    def retention_days_for(self, camera: CameraConfig) -> float | None:
        return camera.retention_days or self.storage.retention_days


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ""
        for part in item["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{where or 'config'}: {message}")
    return "; ".join(lines)


def parse_camera(raw: dict[str, Any]) -> CameraConfig:
    """One camera, validated like the config file's (errors name the field)."""
    try:
        return CameraConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def camera_to_dict(camera: CameraConfig) -> dict[str, Any]:
    """The camera as plain data, password included: for the 0600 site database only."""
    data = camera.model_dump(mode="json", exclude_none=True)
    if camera.password is not None:
        data["password"] = camera.password.get_secret_value()
    return data


def parse_config(raw: dict[str, Any], base_dir: Path | None = None) -> RecorderConfig:
    try:
        config = RecorderConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if base_dir is not None and not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": (base_dir / config.data_dir).resolve()})
    return config


def load_config(path: Path) -> RecorderConfig:
    """Read and validate a TOML configuration file; relative data_dir is relative to the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(raw, base_dir=path.parent)
