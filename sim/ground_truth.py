"""What a scripted scene shows and when, written as JSON next to its encoded streams.

Times are scene time: seconds from the start of the loop. The server aligns every loop to the
wall clock, so the frame a camera sends at Unix time T shows scene time `T % duration_s`
(`GroundTruth.scene_time`). The format is described in docs/ref/sim.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import SpecError
from sim.filtergraph import PassPath
from sim.formats import Mount, StreamFormat
from sim.scenes import LightsScene, MotionScene, ScriptedScene

FORMAT_VERSION = "skycam-sim-ground-truth/1"

LOOP_SEMANTICS = {
    "repeats": True,
    "clock": "unix",
    "scene_time": "unix_time_s % duration_s",
    "pts": "continuous across loops, evenly spaced",
    "loop_starts_on_idr": True,
}


@dataclass(frozen=True)
class Box:
    """An object's visible rectangle on one frame, in pixels of the stream and normalised."""

    t_s: float
    x: int
    y: int
    w: int
    h: int
    nx: float
    ny: float
    nw: float
    nh: float

    @classmethod
    def pixels(cls, t_s: float, x: int, y: int, w: int, h: int, fmt: StreamFormat) -> Box:
        fw, fh = fmt.width, fmt.height
        return cls(t_s, x, y, w, h, x / fw, y / fh, w / fw, h / fh)


@dataclass(frozen=True)
class MotionInterval:
    """Frames with `start_s <= t < end_s` show object `object_index`; `boxes` has one entry per
    frame, in order."""

    object_index: int
    start_s: float
    end_s: float
    boxes: tuple[Box, ...]

    def box_at(self, scene_t: float) -> Box | None:
        if not self.start_s <= scene_t < self.end_s or not self.boxes:
            return None
        step = (self.end_s - self.start_s) / len(self.boxes)
        return self.boxes[min(int((scene_t - self.start_s) / step), len(self.boxes) - 1)]


@dataclass(frozen=True)
class BrightnessStep:
    t_s: float
    brightness: float


@dataclass(frozen=True)
class GroundTruth:
    scene: str
    stream: Mount
    duration_s: int
    fps: int
    width: int
    height: int
    noise: int
    motion: tuple[MotionInterval, ...] = ()
    initial_brightness: float = 0.0
    brightness_steps: tuple[BrightnessStep, ...] = ()
    path: Path | None = field(default=None, compare=False)

    def scene_time(self, unix_s: float) -> float:
        """The scene time a camera shows at Unix time `unix_s`."""
        return unix_s % self.duration_s

    def boxes_at(self, scene_t: float) -> list[Box]:
        """Objects visible at scene time `scene_t` (empty when nothing moves)."""
        return [box for m in self.motion if (box := m.box_at(scene_t)) is not None]

    def moving_at(self, scene_t: float) -> bool:
        return any(m.start_s <= scene_t < m.end_s for m in self.motion)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "scene": self.scene,
            "stream": self.stream,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "frames": self.duration_s * self.fps,
            "width": self.width,
            "height": self.height,
            "noise": self.noise,
            "loop": {**LOOP_SEMANTICS, "period_s": self.duration_s},
            "motion": [
                {
                    "object": m.object_index,
                    "start_s": m.start_s,
                    "end_s": m.end_s,
                    "boxes": [vars(b) for b in m.boxes],
                }
                for m in self.motion
            ],
            "initial_brightness": self.initial_brightness,
            "brightness_steps": [vars(s) for s in self.brightness_steps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | None = None) -> GroundTruth:
        if data.get("format") != FORMAT_VERSION:
            raise SpecError(f"ground truth format {data.get('format')!r} is not {FORMAT_VERSION}")
        return cls(
            scene=data["scene"],
            stream=data["stream"],
            duration_s=data["duration_s"],
            fps=data["fps"],
            width=data["width"],
            height=data["height"],
            noise=data["noise"],
            motion=tuple(
                MotionInterval(
                    m["object"], m["start_s"], m["end_s"], tuple(Box(**b) for b in m["boxes"])
                )
                for m in data["motion"]
            ),
            initial_brightness=data["initial_brightness"],
            brightness_steps=tuple(BrightnessStep(**s) for s in data["brightness_steps"]),
            path=path,
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        return cls.from_json(json.loads(path.read_text()), path)


def compute_ground_truth(
    scene: ScriptedScene, stream: Mount, main: StreamFormat, fmt: StreamFormat
) -> GroundTruth:
    """The ground truth of `scene` as encoded in `fmt` (the main stream's size, or the sub's:
    the sub is the main picture scaled, so its boxes are the main boxes scaled)."""
    motion: list[MotionInterval] = []
    if isinstance(scene, MotionScene):
        for index, motion_pass in enumerate(scene.passes):
            interval = _motion_interval(
                index,
                PassPath.of(motion_pass, main.width, main.height, main.fps),
                scene.duration_s,
                main,
                fmt,
            )
            if interval is not None:
                motion.append(interval)
    initial = 0.0
    steps: tuple[BrightnessStep, ...] = ()
    if isinstance(scene, LightsScene):
        initial = scene.initial_brightness
        steps = tuple(
            BrightnessStep(round(s.at_s * main.fps) / main.fps, s.brightness) for s in scene.steps
        )
    return GroundTruth(
        scene=scene.kind,
        stream=stream,
        duration_s=scene.duration_s,
        fps=main.fps,
        width=fmt.width,
        height=fmt.height,
        noise=scene.noise,
        motion=tuple(motion),
        initial_brightness=initial,
        brightness_steps=steps,
    )


def _motion_interval(
    index: int, path: PassPath, duration_s: int, main: StreamFormat, fmt: StreamFormat
) -> MotionInterval | None:
    sx, sy = fmt.width / main.width, fmt.height / main.height
    boxes: list[Box] = []
    frames: list[int] = []
    for n in range(path.n_enter, min(path.n_exit, duration_s * main.fps - 1) + 1):
        corner = path.top_left(n)
        if corner is None:
            continue
        # Clip to the frame, in main pixels, then scale to this stream's pixels.
        x0, y0 = max(corner[0], 0), max(corner[1], 0)
        x1, y1 = min(corner[0] + path.w, main.width), min(corner[1] + path.h, main.height)
        if x1 <= x0 or y1 <= y0:
            continue
        bx, by = round(x0 * sx), round(y0 * sy)
        bw, bh = round(x1 * sx) - bx, round(y1 * sy) - by
        boxes.append(Box.pixels(n / main.fps, bx, by, bw, bh, fmt))
        frames.append(n)
    if not boxes:
        return None
    if frames != list(range(frames[0], frames[-1] + 1)):
        raise SpecError(f"pass {index} leaves and re-enters the frame: split it into two passes")
    return MotionInterval(index, frames[0] / main.fps, (frames[-1] + 1) / main.fps, tuple(boxes))
