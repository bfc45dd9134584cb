"""The ground truth agrees with the pixels, frame by frame, in both streams of the default scenes.

Decodes the cached encodings, which are byte for byte what the server sends; the RTSP side of the
same promise (scene time = wall clock) is checked in test_sim_streams.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sim_rtsp_probe import changed, file_frame_pairs

from sim.cluster import SimCluster
from sim.formats import MAIN_FORMAT, SUB_FORMAT
from sim.ground_truth import Box, GroundTruth
from sim.scene_cache import EncodedScene, SceneCache
from sim.scenes import scene_from_name
from sim.spec import CameraSpec


@pytest.fixture(scope="module")
def cache() -> Iterator[SceneCache]:
    # The cache a cluster would use (SKYCAM_SIM_CACHE or ~/.cache/skycam/scenes), so the scenes
    # are encoded once for the whole suite.
    yield SimCluster([CameraSpec("unused")]).cache


def encoded(cache: SceneCache, kind: str) -> EncodedScene:
    scene = scene_from_name(kind)
    assert scene.kind != "pattern"
    return cache.scene(scene, MAIN_FORMAT, SUB_FORMAT)  # type: ignore[arg-type]


def frame_boxes(truth: GroundTruth) -> dict[int, Box]:
    return {round(box.t_s * truth.fps): box for m in truth.motion for box in m.boxes}


def inside(mask: np.ndarray, boxes: list[Box], pad: int) -> int:
    keep = np.zeros_like(mask)
    for b in boxes:
        keep[max(0, b.y - pad) : b.y + b.h + pad, max(0, b.x - pad) : b.x + b.w + pad] = True
    return int((mask & keep).sum())


@pytest.mark.parametrize("stream", ["main", "sub"])
def test_motion_matches_the_boxes_and_the_intervals(cache: SceneCache, stream: str) -> None:
    scene = encoded(cache, "motion")
    truth = scene.main_truth if stream == "main" else scene.sub_truth
    video = scene.main_video if stream == "main" else scene.sub_video
    boxes = frame_boxes(truth)
    moving_pairs = outlined = frames = 0
    for n, previous, frame in file_frame_pairs(str(video)):
        assert frame.shape == (truth.height, truth.width)
        frames = n + 1
        near = [b for b in (boxes.get(n - 1), boxes.get(n)) if b is not None]
        mask = changed(previous, frame)
        if not near:
            assert mask.sum() == 0, f"frame {n}: change outside every scripted interval"
            continue
        total = int(mask.sum())
        # Where the object shows on both frames it has moved: the change is large...
        if len(near) == 2 and min(b.w for b in near) > 8:
            assert total > 2 * near[1].h, f"frame {n}: the object did not visibly move"
            moving_pairs += 1
        # ...and all of it lies within the boxes of the two frames (give or take the pixel or
        # two that encoding and scaling soften edges by).
        assert inside(mask, near, pad=3) == total, f"frame {n}: change outside the boxes"
        outlined += check_outline(frame, boxes.get(n), truth.width)
    assert frames == truth.duration_s * truth.fps
    assert moving_pairs > 200 and outlined > 150


def check_outline(frame: np.ndarray, box: Box | None, width: int) -> int:
    """The box is the object's outline: its left border is dark and the inside bright, and the
    pixels just outside differ. Returns 1 if checked, 0 if the left edge is off-screen."""
    if box is None or box.x < 4 or box.x + box.w > width - 4 or box.w < 20:
        return 0
    rows = slice(box.y + box.h // 4, box.y + box.h // 3)
    gray = frame.astype(np.int16)
    border = gray[rows, box.x + 1].mean()
    outside = gray[rows, box.x - 3].mean()
    interior = gray[rows, box.x + box.w // 2].mean()
    assert border < 50 and interior > 200, f"no object at {box}"
    assert abs(outside - border) > 25, f"the edge of {box} is not the object's edge"
    return 1


@pytest.mark.parametrize("kind", ["idle", "lights"])
def test_idle_and_lights_scenes_have_no_object_motion(cache: SceneCache, kind: str) -> None:
    scene = encoded(cache, kind)
    truth = scene.sub_truth
    assert truth.motion == ()
    steps = {round(s.t_s * truth.fps): s for s in truth.brightness_steps}
    assert len(steps) == (2 if kind == "lights" else 0)
    mean: dict[int, float] = {}
    for n, previous, frame in file_frame_pairs(str(scene.sub_video)):
        count = int(changed(previous, frame).sum())
        if n in steps:
            # The lights switch: most of the frame changes at once, on the scripted frame.
            assert count > 0.5 * frame.size, f"frame {n}: the light step is missing"
        else:
            assert count == 0, f"frame {n}: change in a scene without motion"
        mean[n] = float(frame.mean())
    assert len(mean) == truth.duration_s * truth.fps - 1
    if kind == "lights":
        dim, on, off = mean[1], mean[min(steps)], mean[max(steps)]
        assert on > dim + 20 and abs(off - dim) < 3  # on at 20 s, back off at 40 s
