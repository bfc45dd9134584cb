"""Request and response bodies of the API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from recorder.accounts.model import Right, Role


class _In(BaseModel):
    # Unknown keys refused; booleans and numbers must be JSON booleans and numbers ("yes", 1
    # or "3" are not coerced: `{"disabled": "yes"}` must not disable anyone).
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(_In):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool
    rights: dict[str, list[Right]]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class NewUser(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role = Role.VIEWER


class UserChange(_In):
    role: Role | None = None
    disabled: StrictBool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class RightsChange(_In):
    rights: list[Right] = Field(max_length=4)


class CameraOut(BaseModel):
    id: str
    name: str
    enabled: bool
    record_mode: str
    main_url: str  # without credentials
    sub_url: str | None
    retention_days: float | None
    motion: dict[str, Any]  # the [cameras.motion] settings
    onvif: dict[str, Any]  # the [cameras.onvif] settings (no credentials)
    rights: list[Right]
    status: CameraStatus


class CameraStatus(BaseModel):
    state: str
    reason: str
    since_ms: int
    last_packet_ms: int | None
    bitrate_bps: float
    fps: float
    width: int
    height: int
    video_codec: str
    has_audio: bool
    segments_written: int
    reconnects: int


class Span(BaseModel):
    start_ms: int
    end_ms: int


class Bucket(BaseModel):
    start_ms: int
    end_ms: int
    recorded_ms: int
    motion_ms: int = 0  # time covered by motion events (the density strip)
    events: int = 0  # events starting in the bucket


class BoxOut(BaseModel):
    """Where the motion was, in fractions of the frame (origin top left)."""

    x: float
    y: float
    w: float
    h: float


class EventOut(BaseModel):
    id: int
    camera_id: str
    source: str  # software, onvif, both, or external (a webhook)
    kind: str  # motion, or what an external device reported (doorbell, alarm, plate...)
    label: str  # what an external device read (a number plate); "" for motion
    start_ms: int
    end_ms: int | None  # None while the event is in progress
    score: float  # largest fraction of the frame in motion (0 for ONVIF-only events)
    zones: list[str]
    box: BoxOut | None
    has_thumbnail: bool
    record_start_ms: int  # start minus pre-roll
    record_end_ms: int | None  # end plus post-roll; None while in progress


class EventPageOut(BaseModel):
    events: list[EventOut]  # newest first
    next_cursor: str | None  # pass as `cursor` for the next page; None: last page


class EventMarker(BaseModel):
    id: int
    start_ms: int
    end_ms: int | None
    score: float
    has_thumbnail: bool
    kind: str = "motion"
    label: str = ""


class Timeline(BaseModel):
    camera_id: str
    start_ms: int
    end_ms: int
    resolution: str
    runs: list[Span]
    gaps: list[Span]
    buckets: list[Bucket]
    events: list[EventMarker]  # oldest first; at most MAX_TIMELINE_EVENTS (the newest)
    events_truncated: bool


class Calendar(BaseModel):
    camera_id: str
    tz: str
    days: list[str]  # ISO dates with at least one recording


class SeekResult(BaseModel):
    camera_id: str
    t_ms: int
    segment_id: int
    segment_start_ms: int
    segment_end_ms: int
    offset_ms: int  # from the segment start to t
    keyframe_offset_ms: int  # the keyframe at or before t, from the segment start
    keyframe_byte_offset: int
    playlist_offset_ms: int | None = None  # from the start of the playlist, when one is given


class CameraUsageOut(BaseModel):
    camera_id: str
    bytes: int
    segments: int
    oldest_ms: int | None
    newest_ms: int | None
    bytes_per_day: float | None


class StorageOut(BaseModel):
    recordings_bytes: int
    filesystem_total_bytes: int
    filesystem_free_bytes: int
    used_percent: float
    alarm_level: int
    recording_paused: bool
    high_water_percent: float
    low_water_percent: float
    max_bytes: int | None
    days_left: float | None
    per_camera: list[CameraUsageOut]


class Dashboard(BaseModel):
    cameras: int
    online: int
    events_today: int | None  # None until motion detection runs
    storage: StorageOut


class AuditOut(BaseModel):
    id: int
    at_ms: int
    actor: str
    action: str
    camera_id: str | None
    target: str
    outcome: str
    client: str
    detail: dict[str, object]


CameraOut.model_rebuild()


class NewClip(_In):
    start: str = Field(max_length=40, description="ms since 1970 or ISO 8601")
    end: str = Field(max_length=40)
    exact: StrictBool = (
        False  # cut at exactly `start` (edit list) instead of the keyframe before it
    )
    name: str = Field(default="", max_length=200)


class ClipOut(BaseModel):
    id: int
    camera_id: str
    name: str
    start_ms: int
    end_ms: int
    exact: bool
    status: str  # pending, running, ready, failed
    progress: float
    bytes: int
    duration_ms: int
    error: str
    created_by: str
    created_ms: int


class CameraIn(_In):
    id: str = Field(min_length=1, max_length=63)
    name: str = Field(default="", max_length=100)
    main_url: str = Field(max_length=2000)
    sub_url: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    enabled: StrictBool = True
    record_mode: Literal["continuous", "motion", "off"] = "continuous"
    retention_days: StrictFloat | None = Field(default=None, gt=0, le=36500)
    motion: dict[str, Any] | None = None
    onvif: dict[str, Any] | None = None
    test: StrictBool = True  # open the stream before saving; refuse if it does not play


class CameraPatch(_In):
    name: str | None = Field(default=None, max_length=100)
    main_url: str | None = Field(default=None, max_length=2000)
    sub_url: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    enabled: StrictBool | None = None
    record_mode: Literal["continuous", "motion", "off"] | None = None
    retention_days: StrictFloat | None = Field(default=None, gt=0, le=36500)
    motion: dict[str, Any] | None = None
    onvif: dict[str, Any] | None = None
    test: StrictBool = True


class StreamTest(_In):
    main_url: str = Field(max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)


class StreamInfoOut(BaseModel):
    video_codec: str
    width: int
    height: int
    fps: float | None
    audio_codec: str | None


class DiscoverRequest(_In):
    timeout_s: StrictFloat = Field(default=3.0, ge=0.2, le=10)
    targets: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="IP[:port] to probe instead of the LAN's multicast group",
    )


class DiscoveredOut(BaseModel):
    address: str  # WS-Discovery endpoint reference (stable across reboots)
    host: str | None
    port: int
    name: str | None
    hardware: str | None
    location: str | None
    xaddrs: list[str]
    known: bool  # a configured camera already uses this host


class DiscoveryOut(BaseModel):
    devices: list[DiscoveredOut]


class ProbeRequest(_In):
    host: str = Field(min_length=2, max_length=45, description="IP address of the camera")
    port: StrictInt = Field(default=80, ge=1, le=65535, description="ONVIF port")
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)


class ProfileOut(BaseModel):
    token: str
    name: str
    encoding: str
    width: int
    height: int
    fps: float | None


class DeviceOut(BaseModel):
    host: str
    port: int
    manufacturer: str
    model: str
    serial: str
    firmware: str
    profiles: list[ProfileOut]
    main_url: str
    sub_url: str | None
    ptz: bool
    events: bool


class OnvifCameraIn(ProbeRequest):
    id: str = Field(min_length=1, max_length=63)
    name: str = Field(default="", max_length=100)
    record_mode: Literal["continuous", "motion", "off"] = "continuous"
    test: StrictBool = True  # open the stream before saving; refuse if it does not play


class StreamUrlsOut(BaseModel):
    main_url: str
    sub_url: str | None


class PtzMove(_In):
    pan: StrictFloat = Field(default=0.0, ge=-1, le=1, description="-1 left .. 1 right")
    tilt: StrictFloat = Field(default=0.0, ge=-1, le=1, description="-1 down .. 1 up")
    zoom: StrictFloat = Field(default=0.0, ge=-1, le=1, description="-1 out .. 1 in")
    timeout_s: StrictFloat = Field(default=1.0, ge=0.1, le=60, description="then the camera stops")


class PresetOut(BaseModel):
    token: str
    name: str


class PtzCentre(_In):
    x: StrictFloat = Field(ge=0, le=1, description="of the picture, 0 left .. 1 right")
    y: StrictFloat = Field(ge=0, le=1, description="of the picture, 0 top .. 1 bottom")
    aspect: StrictFloat = Field(default=16 / 9, ge=0.2, le=5, description="picture width/height")


class CentringOut(BaseModel):
    method: Literal["relative", "continuous"]
    pan: float
    tilt: float


class PtzStatusOut(BaseModel):
    pan: float | None
    tilt: float | None
    zoom: float | None
    moving: bool


class NewPreset(_In):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^<>&\x00-\x1f]+$")


class NewIntegration(_In):
    name: str = Field(min_length=1, max_length=63, description="a-z, 0-9, '-', '_'")
    cameras: list[str] = Field(
        default_factory=list, max_length=100, description="cameras it may report on; [] = all"
    )


class IntegrationOut(BaseModel):
    name: str
    cameras: list[str]  # [] = every camera
    created_ms: int
    created_by: str
    url: str  # where the device posts, relative to the API root


class IntegrationCreated(IntegrationOut):
    secret: str  # the HMAC key: shown this once, never again


class HookEvent(_In):
    """What a device posts to /hooks/{integration} (signed; see docs/ref/api.md)."""

    camera_id: str = Field(min_length=1, max_length=63)
    kind: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$", description="e.g. doorbell")
    label: str = Field(default="", max_length=100, description="e.g. a number plate")
    confidence: StrictFloat = Field(default=1.0, ge=0, le=1)
    at_ms: StrictInt | None = Field(default=None, description="when; default: on receipt")
    jpeg: str | None = Field(
        default=None, max_length=1_400_000, description="a picture, base64 (at most ~1 MB)"
    )
