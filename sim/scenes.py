"""What a simulated camera shows: scripted scenes (encoded once, then looped) and a live pattern.

Scripted scenes last a whole number of seconds, so with a one-second GOP every loop starts on an
IDR. Positions and sizes are normalised to the frame (0..1), so one scene serves any stream size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sim.errors import SpecError

SceneKind = Literal["motion", "idle", "lights", "pattern"]
SCENE_KINDS: tuple[SceneKind, ...] = ("motion", "idle", "lights", "pattern")
# What `mixed` cycles through over the cameras of a cluster.
MIXED_CYCLE: tuple[SceneKind, ...] = ("motion", "idle", "lights", "pattern")

DEFAULT_NOISE = 5  # ffmpeg `noise` strength: mild temporal sensor noise, about +-5 grey levels
DEFAULT_SEED = 7


@dataclass(frozen=True)
class MotionPass:
    """One crossing of the object: its centre moves in a straight line from `start` at `enter_s`
    to `end` at `exit_s` (normalised frame coordinates; points outside 0..1 are off-screen, so
    an object can enter and leave). `size` is the object's width and height as fractions of the
    frame's."""

    enter_s: float
    exit_s: float
    start: tuple[float, float]
    end: tuple[float, float]
    size: tuple[float, float] = (0.10, 0.20)

    def validate(self, duration_s: int) -> None:
        if not 0 <= self.enter_s < self.exit_s <= duration_s:
            raise SpecError(
                f"pass {self.enter_s}..{self.exit_s} s must satisfy "
                f"0 <= enter < exit <= duration ({duration_s} s)"
            )
        if not all(0 < s <= 1 for s in self.size):
            raise SpecError(f"pass size {self.size} must be fractions of the frame in (0, 1]")


# Three crossings at different times, directions and speeds: left to right at walking pace,
# right to left slowly and smaller (farther away), then a fast diagonal.
DEFAULT_PASSES: tuple[MotionPass, ...] = (
    MotionPass(5.0, 11.0, (-0.06, 0.45), (1.06, 0.45), (0.10, 0.20)),
    MotionPass(24.0, 33.0, (1.05, 0.70), (-0.05, 0.62), (0.08, 0.16)),
    MotionPass(44.0, 48.0, (-0.07, 0.15), (1.07, 0.85), (0.12, 0.22)),
)


@dataclass(frozen=True)
class LightStep:
    """At `at_s` the global brightness jumps to `brightness` (ffmpeg `eq` brightness, -1..1)."""

    at_s: float
    brightness: float


@dataclass(frozen=True)
class _ScriptedScene:
    duration_s: int = 60
    noise: int = DEFAULT_NOISE
    seed: int = DEFAULT_SEED

    def validate(self) -> None:
        if not isinstance(self.duration_s, int) or not 1 <= self.duration_s <= 3600:
            raise SpecError(f"duration_s {self.duration_s!r} must be whole seconds in 1..3600")
        if not 0 <= self.noise <= 40:
            raise SpecError(f"noise {self.noise} must be in 0..40")

    def params(self) -> dict[str, Any]:
        """Everything that changes the pixels: the cache key is a hash of this."""
        return {"kind": self.kind, **asdict(self)}

    @property
    def kind(self) -> SceneKind:
        raise NotImplementedError


@dataclass(frozen=True)
class MotionScene(_ScriptedScene):
    """A static textured background where a high-contrast rectangle crosses per `passes`."""

    passes: tuple[MotionPass, ...] = DEFAULT_PASSES

    def __post_init__(self) -> None:
        self.validate()
        for motion_pass in self.passes:
            motion_pass.validate(self.duration_s)

    @property
    def kind(self) -> SceneKind:
        return "motion"


@dataclass(frozen=True)
class IdleScene(_ScriptedScene):
    """The same background with sensor noise only: a detector must stay quiet."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def kind(self) -> SceneKind:
        return "idle"


@dataclass(frozen=True)
class LightsScene(_ScriptedScene):
    """The background in a dim room where the lights go on at 20 s and off at 40 s: the whole
    frame changes at once, with no object motion."""

    initial_brightness: float = -0.25
    steps: tuple[LightStep, ...] = field(default=(LightStep(20.0, 0.0), LightStep(40.0, -0.25)))

    def __post_init__(self) -> None:
        self.validate()
        times = [step.at_s for step in self.steps]
        if times != sorted(times) or any(not 0 < t < self.duration_s for t in times):
            raise SpecError(f"light steps {times} must be increasing and inside the scene")
        levels = [self.initial_brightness, *(s.brightness for s in self.steps)]
        if any(not -1 <= b <= 1 for b in levels):
            raise SpecError(f"brightness levels {levels} must be in -1..1")

    @property
    def kind(self) -> SceneKind:
        return "lights"


@dataclass(frozen=True)
class PatternScene:
    """GStreamer's moving-ball test pattern, encoded live by x264enc: the one scene that costs
    encoder CPU all the time, and has no ground truth."""

    @property
    def kind(self) -> SceneKind:
        return "pattern"


ScriptedScene = MotionScene | IdleScene | LightsScene
Scene = ScriptedScene | PatternScene


def scene_from_name(name: str) -> Scene:
    """The default scene of a kind: `motion`, `idle`, `lights` or `pattern`."""
    defaults: dict[str, Scene] = {
        "motion": MotionScene(),
        "idle": IdleScene(),
        "lights": LightsScene(),
        "pattern": PatternScene(),
    }
    try:
        return defaults[name]
    except KeyError:
        raise SpecError(f"unknown scene {name!r}: expected one of {', '.join(defaults)}") from None


def mixed_scene_names(count: int) -> list[SceneKind]:
    """Scene kinds for `count` cameras in `mixed` mode: cycles motion, idle, lights, pattern."""
    return [MIXED_CYCLE[i % len(MIXED_CYCLE)] for i in range(count)]
