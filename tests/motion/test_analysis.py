"""The frame analysis on synthetic frames: no I/O."""

from __future__ import annotations

import numpy as np
import pytest

from recorder.motion.analysis import (
    AnalysisSettings,
    Box,
    FrameResult,
    MotionAnalyzer,
    analysis_size,
    polygon_mask,
)
from recorder.motion.config import MotionConfig, ZoneConfig, ZoneKind

from .synthetic import Scene, crossing


def settled(settings: AnalysisSettings, scene: Scene, frames: int = 10) -> MotionAnalyzer:
    analyzer = MotionAnalyzer(settings)
    for _ in range(frames):
        analyzer.analyze(scene.frame())
    return analyzer


Rect = tuple[float, float, float, float]


def run(analyzer: MotionAnalyzer, scene: Scene, objects: list[Rect]) -> list[FrameResult]:
    return [analyzer.analyze(scene.frame((obj,))) for obj in objects]


DEFAULT = AnalysisSettings.of(MotionConfig())


def test_a_moving_object_is_seen_where_it_is() -> None:
    scene = Scene()
    analyzer = settled(DEFAULT, scene)
    path = list(crossing(20))
    results = run(analyzer, scene, path)
    assert all(r.motion for r in results)
    for (x, y, w, h), result in zip(path, results, strict=True):
        assert result.box is not None
        truth = Box(x, y, w, h)
        # The box covers the object; it may trail a little (the background remembers it).
        assert result.box.intersection(truth) >= 0.8 * truth.area()
        assert result.box.area() <= 4 * truth.area()
        assert 0.5 * truth.area() <= result.score <= 3 * truth.area()


def test_sensor_noise_alone_is_not_motion() -> None:
    scene = Scene(noise=6.0)
    analyzer = MotionAnalyzer(DEFAULT)
    results = [analyzer.analyze(scene.frame()) for _ in range(300)]
    assert not any(r.motion for r in results)
    assert analyzer.recalibrations == 0


def test_a_brightness_step_recalibrates_instead_of_firing() -> None:
    scene = Scene()
    analyzer = settled(DEFAULT, scene)
    scene.brightness = 60  # the lights go on
    results = [analyzer.analyze(scene.frame()) for _ in range(30)]
    assert not any(r.motion for r in results)
    assert results[0].calibrating and results[0].changed >= 0.5
    assert analyzer.recalibrations == 1
    # Once settled, motion is seen again against the new background.
    after = run(analyzer, scene, list(crossing(5)))
    assert all(r.motion for r in after)


def test_a_brightness_ramp_over_several_frames_does_not_fire() -> None:
    # An IR switch or auto exposure takes a few frames: each step is global too.
    scene = Scene()
    analyzer = settled(DEFAULT, scene)
    results = []
    for step in range(1, 6):
        scene.brightness = 15 * step
        results += [analyzer.analyze(scene.frame()) for _ in range(2)]
    results += [analyzer.analyze(scene.frame()) for _ in range(20)]
    assert not any(r.motion for r in results)


def test_motion_inside_an_exclude_zone_is_ignored() -> None:
    band = ZoneConfig(
        name="road", kind=ZoneKind.EXCLUDE, points=((0, 0.3), (1, 0.3), (1, 0.7), (0, 0.7))
    )
    settings = AnalysisSettings.of(MotionConfig(zones=(band,)))
    scene = Scene()
    analyzer = settled(settings, scene)
    inside = run(analyzer, scene, list(crossing(20, y=0.4, size=(0.1, 0.2))))
    assert not any(r.motion for r in inside)
    outside = run(analyzer, scene, list(crossing(10, y=0.75, size=(0.1, 0.2))))
    assert all(r.motion for r in outside)


def test_include_zones_limit_motion_and_are_named() -> None:
    left = ZoneConfig(name="gate", points=((0, 0), (0.5, 0), (0.5, 1), (0, 1)))
    settings = AnalysisSettings.of(MotionConfig(zones=(left,)))
    scene = Scene()
    analyzer = settled(settings, scene)
    in_gate = analyzer.analyze(scene.frame(((0.1, 0.4, 0.1, 0.2),)))
    assert in_gate.motion and in_gate.zones == ("gate",)
    analyzer = settled(settings, scene)
    out_of_gate = [analyzer.analyze(scene.frame(((0.75, 0.4, 0.1, 0.2),))) for _ in range(3)]
    assert not any(r.motion for r in out_of_gate)


def test_blobs_under_the_minimum_area_do_not_count() -> None:
    scene = Scene()
    analyzer = settled(AnalysisSettings.of(MotionConfig(min_area=0.05)), scene)
    small = analyzer.analyze(scene.frame(((0.4, 0.4, 0.05, 0.08),)))  # 0.4 % of the frame
    assert not small.motion
    big = analyzer.analyze(scene.frame(((0.4, 0.4, 0.3, 0.3),)))  # 9 %
    assert big.motion


def test_higher_sensitivity_sees_fainter_changes() -> None:
    scene = Scene(noise=2.0)
    faint = scene.bg.copy()
    faint[60:100, 100:140] += 22  # a dim shadow
    frame = np.clip(faint, 0, 255).astype(np.uint8)
    low = settled(AnalysisSettings.of(MotionConfig(sensitivity=20)), scene)
    high = settled(AnalysisSettings.of(MotionConfig(sensitivity=90)), scene)
    assert not low.analyze(frame).motion
    assert high.analyze(frame).motion


def test_an_object_that_stops_blends_into_the_background() -> None:
    scene = Scene()
    analyzer = settled(DEFAULT, scene)
    parked = (0.4, 0.4, 0.1, 0.2)
    results = [analyzer.analyze(scene.frame((parked,))) for _ in range(150)]
    assert results[0].motion
    assert not results[-1].motion  # 150 frames = 30 s at 5 fps, alpha 0.05


def test_a_ghost_left_by_an_object_seen_at_start_fades_within_a_second() -> None:
    # Started while something was in view: the background learnt it. When it goes, the place
    # it left differs from the background but does not move: a ghost, not motion.
    scene = Scene()
    analyzer = MotionAnalyzer(DEFAULT)
    parked = (0.4, 0.4, 0.15, 0.3)
    for _ in range(8):
        analyzer.analyze(scene.frame((parked,)))
    after = [analyzer.analyze(scene.frame()) for _ in range(25)]
    seen = [r.motion for r in after]
    assert not any(seen[5:])  # 5 frames = 1 s at 5 fps


def test_starting_while_something_moves_leaves_no_ghost_behind_it() -> None:
    # The camera connects in the middle of a crossing: calibration must not learn the object.
    scene = Scene()
    analyzer = MotionAnalyzer(DEFAULT)
    path = list(crossing(15, size=(0.08, 0.2)))
    results = run(analyzer, scene, path)
    judged = [(obj, r) for obj, r in zip(path, results, strict=True) if not r.calibrating]
    assert judged and all(r.motion for _, r in judged)
    for (x, _y, w, _h), result in judged:
        assert result.box is not None
        # The object, not the places it crossed while the background was being learnt.
        assert result.box.x >= x - w / 2, (x, result.box)


def test_an_object_that_stops_stops_being_motion_soon() -> None:
    scene = Scene()
    analyzer = settled(DEFAULT, scene)
    moving = run(analyzer, scene, list(crossing(10)))
    x, y, w, h = list(crossing(10))[-1]
    stopped = [analyzer.analyze(scene.frame(((x, y, w, h),))) for _ in range(10)]
    assert all(r.motion for r in moving)
    assert not any(r.motion for r in stopped[5:])


def test_first_frames_only_calibrate_and_reset_forgets_the_background() -> None:
    scene = Scene()
    analyzer = MotionAnalyzer(DEFAULT)
    first = [analyzer.analyze(scene.frame(((0.4, 0.4, 0.1, 0.2),))) for _ in range(3)]
    assert all(r.calibrating and not r.motion for r in first)
    analyzer = settled(DEFAULT, scene)
    analyzer.reset()
    assert analyzer.analyze(scene.frame()).calibrating


def test_analysis_size_keeps_the_aspect_and_never_enlarges() -> None:
    assert analysis_size(640, 360, 160) == (160, 90)
    assert analysis_size(1280, 720, 160) == (160, 90)
    assert analysis_size(704, 576, 160) == (160, 130)
    assert analysis_size(120, 90, 160) == (120, 90)


def test_polygon_masks_cover_the_polygon() -> None:
    mask = polygon_mask(((0, 0), (0.5, 0), (0.5, 1), (0, 1)), 100, 50)
    assert mask[25, 10] == 255 and mask[25, 90] == 0
    assert 0.45 <= (mask > 0).mean() <= 0.55


@pytest.mark.parametrize(("sensitivity", "threshold"), [(1, 55), (50, 30), (100, 5)])
def test_sensitivity_maps_to_a_threshold(sensitivity: int, threshold: int) -> None:
    assert MotionConfig(sensitivity=sensitivity).threshold == threshold
