"""Per-camera motion settings and site-wide event settings (parsed with the recorder config)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionSource(StrEnum):
    SOFTWARE = "software"
    ONVIF = "onvif"
    BOTH = "both"
    OFF = "off"


class MotionConfig(_Model):
    source: MotionSource = MotionSource.SOFTWARE
    """Where motion comes from: software (OpenCV on the substream), onvif, both, or off."""

    fps: Annotated[float, Field(gt=0, le=30)] = 5
    """Frames analysed per second (default 5)."""


class EventsConfig(_Model):
    pre_roll_s: Annotated[float, Field(ge=0, le=120)] = 5
    """Seconds of recording kept before an event starts (default 5)."""

    post_roll_s: Annotated[float, Field(ge=0, le=600)] = 30
    """Seconds kept after it ends (default 30)."""

    retention_days: Annotated[float, Field(gt=0)] = 30
    """How long an event protects its recordings from space-driven deletion (default 30)."""
