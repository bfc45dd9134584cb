"""Hysteresis for one motion source: from "moving now?" samples to activity start and end.

An activity starts after `start_frames` consecutive samples with motion (one noisy frame is not
an intruder) and is dated from the first of them; it ends once `end_after_s` pass without
motion, dated at the last motion. While it lasts, the tracker remembers its best sighting (the
largest moving area), whose frame becomes the event's thumbnail. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recorder.motion.analysis import Box, FrameResult


@dataclass(frozen=True)
class Sighting:
    """What a source saw at one instant. `frame` is opaque here (the decoded picture, kept for a
    thumbnail); ONVIF sightings have no score, box or frame."""

    at: float
    score: float = 0.0
    box: Box | None = None
    zones: tuple[str, ...] = ()
    frame: object = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, at: float, result: FrameResult, frame: object = None) -> Sighting:
        return cls(at, result.score, result.box, result.zones, frame)


@dataclass(frozen=True)
class ActivityStarted:
    at: float  # the first sample of the run that started it
    best: Sighting
    zones: tuple[str, ...]


@dataclass(frozen=True)
class ActivityImproved:
    best: Sighting
    zones: tuple[str, ...]  # every zone touched so far


@dataclass(frozen=True)
class ActivityEnded:
    at: float  # the last sample with motion
    best: Sighting
    zones: tuple[str, ...]


Signal = ActivityStarted | ActivityImproved | ActivityEnded


class ActivityTracker:
    def __init__(self, start_frames: int = 2, end_after_s: float = 5.0) -> None:
        if start_frames < 1 or end_after_s <= 0:
            raise ValueError("need start_frames >= 1 and end_after_s > 0")
        self.start_frames = start_frames
        self.end_after_s = end_after_s
        self._run: list[Sighting] = []  # consecutive motion samples while idle
        self._active = False
        self._best: Sighting | None = None
        self._last_motion = 0.0
        self._zones: list[str] = []

    @property
    def active(self) -> bool:
        return self._active

    def feed(self, at: float, sighting: Sighting | None) -> list[Signal]:
        """One sample at time `at`: `sighting` when something moved, None when calm."""
        if not self._active:
            if sighting is None:
                self._run.clear()
                return []
            self._run.append(sighting)
            if len(self._run) < self.start_frames:
                return []
            return [self._start()]
        if sighting is not None:
            self._last_motion = max(self._last_motion, sighting.at)
            new_zones = [z for z in sighting.zones if z not in self._zones]
            self._zones += new_zones
            assert self._best is not None
            if sighting.score > self._best.score or new_zones:
                if sighting.score > self._best.score:
                    self._best = sighting
                return [ActivityImproved(self._best, tuple(self._zones))]
            return []
        return self.tick(at)

    def tick(self, now: float) -> list[Signal]:
        """Time passed without a sample (sources that report changes, not frames)."""
        if self._active and now - self._last_motion >= self.end_after_s:
            return [self._end()]
        return []

    def close(self) -> list[Signal]:
        """The source is gone (stream lost, shutdown): end what is open, at its last motion."""
        self._run.clear()
        return [self._end()] if self._active else []

    def _start(self) -> ActivityStarted:
        run, self._run = self._run, []
        self._active = True
        self._best = max(run, key=lambda s: s.score)
        self._last_motion = run[-1].at
        self._zones = []
        for sighting in run:
            self._zones += [z for z in sighting.zones if z not in self._zones]
        return ActivityStarted(run[0].at, self._best, tuple(self._zones))

    def _end(self) -> ActivityEnded:
        assert self._best is not None
        self._active = False
        ended = ActivityEnded(self._last_motion, self._best, tuple(self._zones))
        self._best = None
        return ended

    @staticmethod
    def sighting(at: float, result: FrameResult, frame: object = None) -> Sighting | None:
        return Sighting.of(at, result, frame) if result.motion else None
