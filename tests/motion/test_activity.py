"""Hysteresis of one source: start after k motion samples, end after m seconds of calm."""

from __future__ import annotations

import pytest

from recorder.motion.activity import (
    ActivityEnded,
    ActivityImproved,
    ActivityStarted,
    ActivityTracker,
    Sighting,
    Signal,
)
from recorder.motion.analysis import Box, FrameResult

STEP = 0.2  # 5 fps


def feed(tracker: ActivityTracker, pattern: str, t0: float = 0.0) -> list[tuple[float, Signal]]:
    """`pattern`: one character per sample, "x" motion, "." calm."""
    out = []
    for i, char in enumerate(pattern):
        at = t0 + i * STEP
        sighting = Sighting(at, score=0.01 * (i % 7 + 1), zones=("z",)) if char == "x" else None
        out += [(at, signal) for signal in tracker.feed(at, sighting)]
    return out


def test_starts_after_k_consecutive_motion_samples_dated_at_the_first() -> None:
    tracker = ActivityTracker(start_frames=3, end_after_s=5)
    signals = feed(tracker, ".x.xx.xxx")
    starts = [(at, s) for at, s in signals if isinstance(s, ActivityStarted)]
    assert len(starts) == 1
    at, start = starts[0]
    assert at == pytest.approx(8 * STEP)  # noticed at the third sample of the run...
    assert start.at == pytest.approx(6 * STEP)  # ...dated at its first
    assert start.zones == ("z",)


def test_isolated_motion_samples_never_start_anything() -> None:
    tracker = ActivityTracker(start_frames=2, end_after_s=5)
    assert feed(tracker, "x.x.x.x.x.x.x.x") == []
    assert not tracker.active


def test_ends_after_m_seconds_of_calm_dated_at_the_last_motion() -> None:
    tracker = ActivityTracker(start_frames=2, end_after_s=2.0)
    # motion for 1 s, a 1.4 s lull (shorter than m: same activity), motion again, then calm.
    signals = feed(tracker, "xxxxx" + "......." + "xxx" + "." * 15)
    ends = [(at, s) for at, s in signals if isinstance(s, ActivityEnded)]
    assert len(ends) == 1
    at, end = ends[0]
    last_motion = 14 * STEP
    assert end.at == pytest.approx(last_motion)
    assert at == pytest.approx(last_motion + 2.0)
    assert sum(isinstance(s, ActivityStarted) for _, s in signals) == 1


def test_best_sighting_is_the_largest_and_improvements_are_reported() -> None:
    tracker = ActivityTracker(start_frames=1, end_after_s=1)
    signals = [s for _, s in feed(tracker, "xxxxxxx" + "......")]
    best = [s.best.score for s in signals if isinstance(s, ActivityImproved)]
    assert best == sorted(best) and best[-1] == pytest.approx(0.07)
    end = signals[-1]
    assert isinstance(end, ActivityEnded) and end.best.score == pytest.approx(0.07)


def test_close_ends_an_open_activity_at_its_last_motion() -> None:
    tracker = ActivityTracker(start_frames=1, end_after_s=10)
    feed(tracker, "xxx")
    [end] = tracker.close()
    assert isinstance(end, ActivityEnded) and end.at == pytest.approx(2 * STEP)
    assert tracker.close() == []


def test_tick_ends_without_samples() -> None:
    tracker = ActivityTracker(start_frames=1, end_after_s=3)
    tracker.feed(10.0, Sighting(10.0))
    assert tracker.tick(12.0) == []
    [end] = tracker.tick(13.0)
    assert isinstance(end, ActivityEnded) and end.at == 10.0


def test_sighting_of_a_frame_result() -> None:
    moving = FrameResult(True, 0.02, Box(0.1, 0.2, 0.3, 0.4), ("gate",))
    sighting = ActivityTracker.sighting(5.0, moving, frame="picture")
    assert sighting == Sighting(5.0, 0.02, Box(0.1, 0.2, 0.3, 0.4), ("gate",))
    assert sighting is not None and sighting.frame == "picture"
    assert ActivityTracker.sighting(5.0, FrameResult(False)) is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        ActivityTracker(start_frames=0)
