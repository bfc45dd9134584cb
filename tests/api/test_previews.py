"""Timeline previews (GET /cameras/{id}/preview.jpg) and the motion density of timeline buckets:
checked against the recorded files (decoded here with PyAV) and the stored events."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from recorder.accounts.model import Right, Role
from recorder.api.context import ApiContext
from recorder.storage.model import Segment
from tests.api.conftest import Api

BASE = "/api/v1/cameras/cam1"


def picture(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def reference(api: Api, segment: Segment, at_ms: int, width: int) -> np.ndarray:
    """The frame of `segment` shown at wall time `at_ms`, decoded from the whole file."""
    path = api.parts.context.layout.absolute(segment.path)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    first = frames[0].time or 0.0
    wanted = (at_ms - segment.start_ms) / 1000
    frame = min(frames, key=lambda f: abs((f.time or 0.0) - first - wanted))
    height = round(frame.height * width / frame.width / 2) * 2
    return frame.reformat(width=width, height=height).to_ndarray(format="bgr24")


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def context(api: Api) -> ApiContext:
    return api.parts.context


async def test_preview_is_the_recorded_keyframe_nearest_the_instant(api: Api) -> None:
    admin = await api.headers()
    segment = (await api.segments("cam1"))[1]
    t = segment.start_ms + 4_400  # 1 s GOP: the keyframe at 4 s is nearest
    response = await api.client.get(f"{BASE}/preview.jpg?t={t}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    taken = int(response.headers["X-Taken-At-Ms"])
    assert segment.start_ms <= taken < segment.end_ms
    assert abs(taken - t) <= 500
    shown = picture(response.content)
    assert shown.shape == (120, 160, 3)  # 320x240 shrunk to the default 160 px
    # testsrc2 changes every frame: of the segment's keyframes, the one taken looks most alike.
    candidates = [segment.start_ms + k.offset_ms for k in segment.keyframes]
    closest = min(candidates, key=lambda at: difference(shown, reference(api, segment, at, 160)))
    assert closest == taken


async def test_width_is_honoured_and_repeats_come_from_the_cache(api: Api) -> None:
    admin = await api.headers()
    segment = (await api.segments("cam1"))[0]
    cache = context(api).previews
    url = f"{BASE}/preview.jpg?t={segment.start_ms + 2_000}&w=64"
    first = await api.client.get(url, headers=admin)
    assert first.status_code == 200 and picture(first.content).shape[1] == 64
    misses = cache.misses
    # Another instant nearest the same keyframe: no second decode.
    again = await api.client.get(
        f"{BASE}/preview.jpg?t={segment.start_ms + 2_100}&w=64", headers=admin
    )
    assert again.content == first.content
    assert cache.misses == misses and cache.hits >= 1
    assert "max-age" in again.headers["cache-control"]


async def test_a_preview_near_a_run_edge_shows_the_edge_and_a_gap_has_none(api: Api) -> None:
    admin = await api.headers()
    segments = await api.segments("cam1")
    first_run_end = max(s.end_ms for s in segments if s.run_start_ms == segments[0].run_start_ms)
    near = await api.client.get(f"{BASE}/preview.jpg?t={first_run_end + 5_000}", headers=admin)
    assert near.status_code == 200
    assert first_run_end - 1_500 <= int(near.headers["X-Taken-At-Ms"]) <= first_run_end
    gap = await api.client.get(f"{BASE}/preview.jpg?t={first_run_end + 30_000}", headers=admin)
    assert gap.status_code == 404
    assert "nothing recorded within 15 s" in gap.json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("t=abc", 400, "t: expected"),
        ("t=1", 400, "out of range"),
        ("", 422, "t"),
        ("t=1700000002000&w=8", 422, "w"),
        ("t=1700000002000&w=4000", 422, "w"),
    ],
)
async def test_bad_input_is_refused_with_a_reason(
    api: Api, query: str, status: int, reason: str
) -> None:
    admin = await api.headers()
    response = await api.client.get(f"{BASE}/preview.jpg?{query}", headers=admin)
    assert response.status_code == status
    assert reason in response.text


async def test_previews_need_the_playback_right_on_that_camera(api: Api) -> None:
    t = (await api.segments("cam1"))[0].start_ms + 1_000
    assert (await api.client.get(f"{BASE}/preview.jpg?t={t}")).status_code == 401
    live_only = await api.add_user("watcher", Role.VIEWER, {"cam1": {Right.LIVE}})
    refused = await api.client.get(f"{BASE}/preview.jpg?t={t}", headers=live_only)
    assert refused.status_code == 403
    other = await api.add_user("other", Role.VIEWER, {"cam2": {Right.PLAYBACK}})
    assert (await api.client.get(f"{BASE}/preview.jpg?t={t}", headers=other)).status_code in (
        403,
        404,
    )
    allowed = await api.add_user("player", Role.VIEWER, {"cam1": {Right.PLAYBACK}})
    assert (await api.client.get(f"{BASE}/preview.jpg?t={t}", headers=allowed)).status_code == 200


async def test_timeline_buckets_carry_the_motion_density(api: Api) -> None:
    admin = await api.headers()
    cam1 = [e for e in api.events if e.camera_id == "cam1"]
    start = min(e.start_ms for e in cam1) - 60_000
    end = start + 10 * 60_000
    response = await api.client.get(
        f"{BASE}/timeline?start={start}&end={end}&resolution=minute", headers=admin
    )
    assert response.status_code == 200, response.text
    buckets = response.json()["buckets"]
    expected = sum((e.end_ms or e.start_ms) - e.start_ms for e in cam1)
    assert sum(b["motion_ms"] for b in buckets) == expected
    assert sum(b["events"] for b in buckets) == len(cam1)
    first = next(b for b in buckets if b["start_ms"] <= cam1[0].start_ms < b["end_ms"])
    assert first["motion_ms"] > 0 and first["events"] >= 1
    assert buckets[0]["motion_ms"] == 0 and buckets[0]["events"] == 0  # the minute before


async def test_a_deleted_recording_is_not_shown_from_the_cache(api: Api) -> None:
    admin = await api.headers()
    segment = (await api.segments("cam1"))[-1]
    url = f"{BASE}/preview.jpg?t={segment.start_ms + 1_000}"
    assert (await api.client.get(url, headers=admin)).status_code == 200
    context(api).layout.absolute(segment.path).unlink()  # as retention does
    gone = await api.client.get(url, headers=admin)
    assert gone.status_code == 404
    assert "deleted by retention" in gone.json()["error"]["message"]
