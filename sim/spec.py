"""What to simulate: cameras, and the faults a camera can be told to have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sim.errors import SpecError
from sim.formats import MAIN_FORMAT, SUB_FORMAT, StreamFormat
from sim.scenes import Scene, scene_from_name

FaultKind = Literal["drop", "stall", "garbage"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Fault:
    """A camera misbehaving on purpose.

    - `drop`: every `every_s` seconds the server closes every client connection of the camera.
    - `stall`: `after_s` seconds after a mount starts streaming, no more RTP packets leave it but
      the connection stays open (RTSP replies and RTCP go on); with `resume_after_s` the stream
      comes back that much later, from a keyframe.
    - `garbage`: valid RTSP and RTP, but the payload is random NAL units without SPS/PPS.
    """

    kind: FaultKind
    every_s: float | None = None
    after_s: float | None = None
    resume_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("drop", "stall", "garbage"):
            raise SpecError(f"unknown fault {self.kind!r}: expected drop, stall or garbage")
        if self.kind == "drop" and not (self.every_s and self.every_s > 0):
            raise SpecError("drop fault needs every_s > 0")
        if self.kind == "stall" and (self.after_s is None or self.after_s < 0):
            raise SpecError("stall fault needs after_s >= 0")
        if self.resume_after_s is not None and self.resume_after_s <= 0:
            raise SpecError("stall resume_after_s must be > 0")

    @classmethod
    def drop(cls, every_s: float) -> Fault:
        return cls("drop", every_s=every_s)

    @classmethod
    def stall(cls, after_s: float, resume_after_s: float | None = None) -> Fault:
        return cls("stall", after_s=after_s, resume_after_s=resume_after_s)

    @classmethod
    def garbage(cls) -> Fault:
        return cls("garbage")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """`drop:N`, `stall:N`, `stall:N:M` or `garbage` (N, M in seconds)."""
        kind, *numbers = text.strip().split(":")
        try:
            values = [float(n) for n in numbers]
        except ValueError:
            raise SpecError(f"fault {text!r}: {numbers} are not numbers of seconds") from None
        if kind == "drop" and len(values) == 1:
            return cls.drop(values[0])
        if kind == "stall" and len(values) in (1, 2):
            return cls.stall(values[0], values[1] if len(values) == 2 else None)
        if kind == "garbage" and not values:
            return cls.garbage()
        raise SpecError(f"fault {text!r}: expected drop:N, stall:N, stall:N:M or garbage")

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop:{self.every_s:g}"
        if self.kind == "stall":
            resume = "" if self.resume_after_s is None else f":{self.resume_after_s:g}"
            return f"stall:{self.after_s:g}{resume}"
        return "garbage"

    def to_server(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "every_s": self.every_s,
            "after_s": self.after_s,
            "resume_after_s": self.resume_after_s,
        }


@dataclass(frozen=True)
class CameraSpec:
    """One simulated camera.

    `scene` is a scene object (`MotionScene(...)`, ...) or the name of a default scene
    (`"motion"`, `"idle"`, `"lights"`, `"pattern"`); after construction it is always an object.
    With `user` and `password`, clients must authenticate (basic or digest). `port` 0 lets the
    system choose. `audio` adds AAC audio to the main mount.
    """

    name: str
    scene: Scene | str = "motion"
    fault: Fault | None = None
    audio: bool = False
    user: str | None = None
    password: str | None = None
    port: int = 0
    main: StreamFormat = MAIN_FORMAT
    sub: StreamFormat = SUB_FORMAT

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SpecError(f"camera name {self.name!r}: use letters, digits, '.', '_' or '-'")
        if isinstance(self.scene, str):
            object.__setattr__(self, "scene", scene_from_name(self.scene))
        if (self.user is None) != (self.password is None):
            raise SpecError(f"camera {self.name}: give both user and password, or neither")
        if self.user is not None and (not self.user or ":" in self.user):
            raise SpecError(f"camera {self.name}: user must be non-empty and without ':'")
        if not 0 <= self.port <= 65535:
            raise SpecError(f"camera {self.name}: port {self.port} out of range")
        if self.main.fps != self.sub.fps:
            raise SpecError(f"camera {self.name}: main and sub must have the same fps")
        if self.scene_spec.kind == "pattern" and not (self.main.plain and self.sub.plain):
            raise SpecError(f"camera {self.name}: the live pattern is plain H.264 only")

    @property
    def scene_spec(self) -> Scene:
        """The scene as an object (the `scene` field, typed for after construction)."""
        assert not isinstance(self.scene, str)  # replaced in __post_init__
        return self.scene

    @property
    def has_credentials(self) -> bool:
        return self.user is not None
