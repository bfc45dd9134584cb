"""The labelled scene set of the motion benchmark, and how detected events are scored.

Six cameras: three with scripted motion of different kinds (8 passes each, 24 labelled events
per loop), one whose motion all happens inside an exclude zone, one with sensor noise only,
one whose lights switch six times. Passes leave at least 12 s of calm between them, more than
the default `cooldown_s` (10 s), so each pass is one event (motion resuming within the cooldown
rightly continues the previous event).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim import CameraSpec, IdleScene, LightsScene, LightStep, MotionPass, MotionScene
from sim.ground_truth import GroundTruth

LOOP_S = 150
STARTS = [4.0 + 18 * i for i in range(8)]  # at least 12 s of calm between passes


def _walk() -> MotionScene:
    """People walking across at different heights, both ways, at walking pace."""
    lengths = [4, 5, 3, 6, 4, 5, 3.5, 4.5]
    heights = [0.3, 0.5, 0.65, 0.4, 0.55, 0.35, 0.6, 0.45]
    sizes = [(0.10, 0.20), (0.08, 0.16), (0.12, 0.24), (0.09, 0.2)] * 2
    passes = []
    for i, (start, length, y, size) in enumerate(zip(STARTS, lengths, heights, sizes, strict=True)):
        a, b = (-0.08, 1.08) if i % 2 == 0 else (1.08, -0.08)
        passes.append(MotionPass(start, start + length, (a, y), (b, y), size))
    return MotionScene(duration_s=LOOP_S, passes=tuple(passes))


def _far() -> MotionScene:
    """Small, distant figures on diagonals."""
    paths = [((-0.05, 0.2), (1.05, 0.5)), ((1.05, 0.3), (-0.05, 0.7)),
             ((0.2, -0.08), (0.8, 1.08)), ((1.05, 0.8), (-0.05, 0.4))] * 2  # fmt: skip
    sizes = [(0.05, 0.1), (0.06, 0.12), (0.05, 0.09), (0.07, 0.12)] * 2
    lengths = [5, 6, 4, 5, 6, 4.5, 5.5, 4]
    return MotionScene(
        duration_s=LOOP_S,
        passes=tuple(
            MotionPass(s, s + length, a, b, size)
            for s, length, (a, b), size in zip(STARTS, lengths, paths, sizes, strict=True)
        ),
    )


def _fast() -> MotionScene:
    """Fast, large movers: vertical and horizontal, 1.5 to 2.5 s on screen."""
    passes = []
    for i, start in enumerate(STARTS):
        length = [1.5, 2.0, 2.5][i % 3]
        if i % 2 == 0:
            x = 0.2 + 0.08 * i
            passes.append(MotionPass(start, start + length, (x, -0.15), (x, 1.15), (0.15, 0.3)))
        else:
            y = 0.25 + 0.07 * i
            passes.append(MotionPass(start, start + length, (1.1, y), (-0.1, y), (0.16, 0.28)))
    return MotionScene(duration_s=LOOP_S, passes=tuple(passes))


def _road() -> MotionScene:
    """Traffic on a road at the bottom of the picture: excluded by a zone, never an event."""
    return MotionScene(
        duration_s=60,
        passes=tuple(
            MotionPass(s, s + 4, (-0.1, 0.8), (1.1, 0.8), (0.2, 0.18)) for s in (5, 20, 35, 50)
        ),
    )


ROAD_ZONE = {"name": "road", "kind": "exclude", "points": [[0, 0.62], [1, 0.62], [1, 1], [0, 1]]}

LIGHTS = LightsScene(
    duration_s=120,
    initial_brightness=-0.2,
    steps=tuple(
        LightStep(t, b)
        for t, b in ((10, 0.05), (30, -0.3), (50, 0.1), (70, -0.15), (90, 0.2), (110, -0.2))
    ),
)


@dataclass(frozen=True)
class BenchCamera:
    name: str
    spec: CameraSpec
    labelled: bool  # its motion is expected to become events
    kind: str  # motion, excluded, noise, lighting
    zones: tuple[dict[str, Any], ...] = ()


def scene_set() -> list[BenchCamera]:
    return [
        BenchCamera("walk", CameraSpec("walk", _walk()), True, "motion"),
        BenchCamera("far", CameraSpec("far", _far()), True, "motion"),
        BenchCamera("fast", CameraSpec("fast", _fast()), True, "motion"),
        BenchCamera("road", CameraSpec("road", _road()), False, "excluded", (ROAD_ZONE,)),
        BenchCamera("idle", CameraSpec("idle", IdleScene()), False, "noise"),
        BenchCamera("lights", CameraSpec("lights", LIGHTS), False, "lighting"),
    ]


def cost_scene() -> MotionScene:
    return _walk()


@dataclass(frozen=True)
class Detected:
    start: float  # wall-clock seconds
    published: float | None  # when the start was announced (None: unknown)


@dataclass
class Score:
    expected: int = 0
    matched: int = 0
    events: int = 0  # counted events (edge events excluded)
    false_events: int = 0
    latencies: list[float] = field(default_factory=list)  # publication - truth start
    start_errors: list[float] = field(default_factory=list)  # |event start - truth start|
    by_kind: dict[str, int] = field(default_factory=dict)  # false events per camera kind
    missed: list[str] = field(default_factory=list)  # "camera@scene time" of missed passes
    spurious: list[str] = field(default_factory=list)  # "camera@scene time" of false events

    def add(self, other: Score) -> None:
        self.expected += other.expected
        self.matched += other.matched
        self.events += other.events
        self.false_events += other.false_events
        self.latencies += other.latencies
        self.start_errors += other.start_errors
        self.missed += other.missed
        self.spurious += other.spurious
        for kind, count in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count

    def summary(self) -> dict[str, Any]:
        tp = self.matched
        return {
            "precision": round(tp / self.events, 4) if self.events else 1.0,
            "recall": round(tp / self.expected, 4) if self.expected else 1.0,
            "start_latency_s": _median(self.latencies),
            "start_latency_p95_s": _quantile(self.latencies, 0.95),
            "start_latency_max_s": round(max(self.latencies), 3) if self.latencies else None,
            "start_error_s": _median(self.start_errors),
            "false_events": self.false_events,
            "events_expected": self.expected,
            "events_matched": tp,
            "false_events_by_scene": dict(self.by_kind),
            "missed": self.missed,
            "spurious": self.spurious,
        }


def truth_intervals(
    truth: GroundTruth | None, start: float, end: float
) -> list[tuple[float, float]]:
    """Absolute (start, end) of every pass shown between `start` and `end` (wall clock)."""
    if truth is None:
        return []
    out = []
    for loop in range(
        math.floor(start / truth.duration_s) - 1, math.ceil(end / truth.duration_s) + 1
    ):
        base = loop * truth.duration_s
        out += [(base + m.start_s, base + m.end_s) for m in truth.motion]
    return [(a, b) for a, b in out if b > start and a < end]


def score(
    camera: BenchCamera,
    detected: Sequence[Detected],
    truth: GroundTruth | None,
    judged_from: float,
    judged_to: float,
    tail_s: float,
) -> Score:
    """Match events to passes: an event matches a pass when it starts between one second
    before the pass and half a second after its end (frames arrive a little after they are
    shown). Passes cut by the window's edges count neither way."""
    result = Score()
    passes = truth_intervals(truth, judged_from - 10, judged_to) if camera.labelled else []
    complete = {(a, b) for a, b in passes if a >= judged_from and b + tail_s <= judged_to}
    result.expected = len(complete)
    used: set[tuple[float, float]] = set()
    for event in sorted(detected, key=lambda e: e.start):
        if event.start < judged_from - 1:
            continue
        hit = next(
            (p for p in passes if p[0] - 1 <= event.start <= p[1] + 0.5 and p not in used), None
        )
        if hit is not None and hit not in complete:
            used.add(hit)
            continue  # an edge pass: neither counted nor false
        result.events += 1
        if hit is None:
            result.spurious.append(_where(camera, truth, event.start))
            result.false_events += 1
            result.by_kind[camera.kind] = result.by_kind.get(camera.kind, 0) + 1
            continue
        used.add(hit)
        result.matched += 1
        result.start_errors.append(abs(event.start - hit[0]))
        if event.published is not None:
            result.latencies.append(event.published - hit[0])
    result.missed = [_where(camera, truth, a) for a, b in sorted(complete - used)]
    return result


def _where(camera: BenchCamera, truth: GroundTruth | None, at: float) -> str:
    scene_t = at % truth.duration_s if truth else at
    return f"{camera.name}@{scene_t:.1f}s"


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)
