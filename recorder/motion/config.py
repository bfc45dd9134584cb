"""Per-camera motion settings and site-wide event settings (parsed with the recorder config).

Every field documents its default; docs/ref/config.md ([cameras.motion], [events]) mirrors this
module, and docs/design/motion.md explains how the knobs interact.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionSource(StrEnum):
    SOFTWARE = "software"
    ONVIF = "onvif"
    BOTH = "both"
    OFF = "off"

    @property
    def software(self) -> bool:
        return self in (MotionSource.SOFTWARE, MotionSource.BOTH)

    @property
    def onvif(self) -> bool:
        return self in (MotionSource.ONVIF, MotionSource.BOTH)


class ZoneKind(StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class ZoneConfig(_Model):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    """Shown on events whose motion touches the zone (required)."""

    points: Annotated[tuple[Point, ...], Field(min_length=3, max_length=64)]
    """Polygon corners as [x, y] fractions of the frame (0..1, origin top left), 3 to 64."""

    kind: ZoneKind = ZoneKind.INCLUDE
    """include (default): only motion inside include zones counts, when any exist;
    exclude: motion inside is ignored (a road, a tree, a clock)."""


class MotionConfig(_Model):
    source: MotionSource = MotionSource.SOFTWARE
    """Where motion comes from: software (OpenCV on the substream), onvif, both, or off."""

    fps: Annotated[float, Field(gt=0, le=30)] = 5
    """Frames analysed per second (default 5). Every frame is decoded; only these analysed."""

    width: Annotated[int, Field(ge=64, le=640)] = 160
    """Width in pixels the frame is shrunk to before analysis (default 160)."""

    sensitivity: Annotated[int, Field(ge=1, le=100)] = 50
    """1-100 (default 50): higher notices fainter changes. Sets the per-pixel threshold:
    threshold = 55 - sensitivity / 2 grey levels, rounded down (default 30)."""

    min_area: Annotated[float, Field(gt=0, le=0.5)] = 0.002
    """Smallest moving blob that counts, as a fraction of the frame (default 0.002 = 0.2 %)."""

    blur: Annotated[int, Field(ge=1, le=15)] = 3
    """Gaussian blur kernel in analysis pixels, odd (default 3): hides sensor noise."""

    background_alpha: Annotated[float, Field(gt=0, le=0.5)] = 0.05
    """Weight of each analysed frame in the running-average background (default 0.05, so
    something that stops moving blends in after a few seconds)."""

    global_change: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Fraction of the frame changing at once that means lights or an IR switch rather than
    motion: the background is rebuilt instead of firing (default 0.5)."""

    calibration_s: Annotated[float, Field(ge=0, le=30)] = 1
    """After a global change (and at start) no motion is reported for this long while the
    background settles (default 1 s)."""

    start_frames: Annotated[int, Field(ge=1, le=30)] = 2
    """Consecutive analysed frames with motion needed to start an event (default 2)."""

    end_after_s: Annotated[float, Field(ge=0.5, le=300)] = 5
    """Seconds without motion that end an event (default 5)."""

    cooldown_s: Annotated[float, Field(ge=0, le=3600)] = 10
    """Motion starting less than this after an event's last motion continues that event
    instead of opening a new one (default 10 s)."""

    max_event_s: Annotated[float, Field(ge=10, le=3600)] = 300
    """An event lasting longer is closed and a new one opened (default 300 s), so a tree in
    the wind cannot make one endless event."""

    zones: tuple[ZoneConfig, ...] = ()
    """Include and exclude zones (default none: the whole frame is watched)."""

    @field_validator("blur")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd")
        return value

    @model_validator(mode="after")
    def _unique_zone_names(self) -> Self:
        names = [zone.name for zone in self.zones]
        if len(names) != len(set(names)):
            raise ValueError("zone names must be unique")
        return self

    @property
    def threshold(self) -> int:
        """Grey levels a pixel must differ from the background by to count as changed."""
        return 55 - self.sensitivity // 2

    @property
    def calibration_frames(self) -> int:
        return math.ceil(self.calibration_s * self.fps)


class EventsConfig(_Model):
    pre_roll_s: Annotated[float, Field(ge=0, le=120)] = 5
    """Seconds of recording kept before an event starts (default 5)."""

    post_roll_s: Annotated[float, Field(ge=0, le=600)] = 30
    """Seconds kept after it ends (default 30)."""

    retention_days: Annotated[float, Field(gt=0)] = 30
    """How long an event protects its recordings (default 30): from age, and from space until
    nothing else is left ([storage] events_yield_to_space, docs/design/retention.md)."""

    thumbnail_max_bytes: Annotated[int, Field(ge=4096, le=1_000_000)] = 50_000
    """Largest thumbnail JPEG written (default 50,000 bytes); quality and size are lowered
    until it fits."""
