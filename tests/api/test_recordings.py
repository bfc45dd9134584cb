"""Timeline, calendar, HLS playback, segment files, seek, snapshots, storage: checked against
what the index and the files say."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import av
import cv2
import numpy as np
import pytest

from recorder.storage.state import AlertKind, StorageAlert
from tests.api.conftest import Api

T0 = 1_700_000_000_000
BASE = "/api/v1/cameras/cam1"


async def test_timeline_shows_runs_gaps_and_recorded_time(api: Api) -> None:
    admin = await api.headers()
    segments = await api.segments("cam1")
    first, last = segments[0], segments[-1]
    start, end = first.start_ms - 60_000, last.end_ms + 60_000
    response = await api.client.get(
        f"{BASE}/timeline?start={start}&end={end}&resolution=minute", headers=admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    runs = body["runs"]
    assert len(runs) == 2  # two recordings with a minute between them
    assert runs[0]["start_ms"] == first.start_ms and runs[-1]["end_ms"] == last.end_ms
    assert runs[1]["start_ms"] - runs[0]["end_ms"] >= 59_000
    assert len(body["gaps"]) == 3  # before, between, after
    recorded = sum(b["recorded_ms"] for b in body["buckets"])
    assert recorded == sum(r["end_ms"] - r["start_ms"] for r in runs)
    assert all(b["end_ms"] - b["start_ms"] <= 60_000 for b in body["buckets"])


async def test_calendar_lists_the_days_with_recordings(api: Api) -> None:
    admin = await api.headers()
    response = await api.client.get(
        f"{BASE}/calendar?start=2023-11-01&end=2023-11-30&tz=UTC", headers=admin
    )
    assert response.json()["days"] == ["2023-11-14"]
    # 22:13 UTC on the 14th is already the 15th in Tokyo.
    response = await api.client.get(
        f"{BASE}/calendar?start=2023-11-01&end=2023-11-30&tz=Asia/Tokyo", headers=admin
    )
    assert response.json()["days"] == ["2023-11-15"]


async def test_playback_playlist_covers_the_range_and_marks_the_gap(api: Api) -> None:
    admin = await api.headers()
    segments = await api.segments("cam1")
    response = await api.client.get(
        f"{BASE}/playback.m3u8?start={T0 - 1000}&end={T0 + 3_600_000}", headers=admin
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    durations = [float(x.split(":")[1].rstrip(",")) for x in lines if x.startswith("#EXTINF")]
    assert len(durations) == len(segments)
    assert sum(durations) == pytest.approx(sum(s.duration_ms for s in segments) / 1000, abs=0.01)
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    assert sum(1 for x in lines if x.startswith("#EXT-X-PROGRAM-DATE-TIME")) == len(segments)


async def test_playlist_media_plays_back_as_video(api: Api) -> None:
    """Fetch the first segment the way an HLS player does (init + media byte ranges) and
    decode it."""
    admin = await api.headers()
    segment = (await api.segments("cam1"))[0]
    uri = f"{BASE}/segments/{segment.id}.mp4"
    init = await api.client.get(
        uri, headers={**admin, "Range": f"bytes=0-{segment.init_bytes - 1}"}
    )
    media = await api.client.get(uri, headers={**admin, "Range": f"bytes={segment.init_bytes}-"})
    assert init.status_code == media.status_code == 206
    assert len(init.content) + len(media.content) == segment.bytes
    with av.open(io.BytesIO(init.content + media.content), "r") as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == pytest.approx(segment.duration_ms / 1000 * 15, abs=2)


async def test_a_downloaded_segment_starts_at_zero(api: Api) -> None:
    """The file as stored keeps its place in its run (players chain the files); the copy a
    user downloads is shown from 0, every frame of it."""
    admin = await api.headers()
    segment = (await api.segments("cam1"))[1]  # not the first of its run: stored at ~10 s
    uri = f"{BASE}/segments/{segment.id}.mp4"
    stored = await api.client.get(uri, headers=admin)
    with av.open(io.BytesIO(stored.content), "r") as container:
        assert container.start_time is not None
        assert container.start_time / 1e6 == pytest.approx(
            (segment.start_ms - segment.run_start_ms) / 1000, abs=0.07
        )
        frames = sum(1 for _ in container.decode(video=0))
    response = await api.client.get(f"{uri}?download=true", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    with av.open(io.BytesIO(response.content), "r") as container:
        assert container.start_time == 0
        assert sum(1 for _ in container.decode(video=0)) == frames
    assert response.content != stored.content


async def test_segments_of_another_camera_are_not_served(api: Api) -> None:
    admin = await api.headers()
    other = (await api.segments("cam2"))[0]
    response = await api.client.get(f"{BASE}/segments/{other.id}.mp4", headers=admin)
    assert response.status_code == 404


async def test_seek_finds_the_segment_and_the_keyframe_before(api: Api) -> None:
    admin = await api.headers()
    segments = await api.segments("cam1")
    target = segments[1].start_ms + 4_500
    response = await api.client.get(
        f"{BASE}/seek?t={target}&playlist_start={segments[0].start_ms}", headers=admin
    )
    body = response.json()
    assert body["segment_id"] == segments[1].id
    assert body["offset_ms"] == 4_500
    assert body["keyframe_offset_ms"] <= 4_500 < body["keyframe_offset_ms"] + 1_100
    assert body["keyframe_byte_offset"] > segments[1].init_bytes
    assert body["playlist_offset_ms"] == segments[0].duration_ms + 4_500
    second_run = next(s for s in segments if s.run_start_ms != segments[0].run_start_ms)
    gap = second_run.start_ms - 30_000  # inside the minute without recording
    assert (await api.client.get(f"{BASE}/seek?t={gap}", headers=admin)).status_code == 404


async def test_snapshot_of_an_offline_camera_comes_from_its_last_recording(api: Api) -> None:
    admin = await api.headers()
    response = await api.client.get(f"{BASE}/snapshot.jpg?width=160", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)
    assert int(response.headers["X-Taken-At-Ms"]) == (await api.segments("cam1"))[-1].end_ms


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("start=abc&end=1", 400, "start: expected"),
        (f"start={T0}&end={T0 - 1}", 400, "end must be after start"),
        (f"start={T0}&end={T0 + 32 * 86_400_000}", 400, "spans at most"),
        (f"start={T0}", 422, "end"),
        ("start=1&end=2", 400, "out of range"),
    ],
)
async def test_bad_ranges_are_refused_with_a_reason(
    api: Api, query: str, status: int, reason: str
) -> None:
    admin = await api.headers()
    response = await api.client.get(f"{BASE}/timeline?{query}", headers=admin)
    assert response.status_code == status
    assert reason in response.json()["error"]["message"]


async def test_unknown_camera_and_time_zone(api: Api) -> None:
    admin = await api.headers()
    assert (await api.client.get("/api/v1/cameras/nope/status", headers=admin)).status_code == 404
    response = await api.client.get(
        f"{BASE}/calendar?start=2023-11-01&end=2023-11-02&tz=Mars/Olympus", headers=admin
    )
    assert response.status_code == 400 and "time zone" in response.text


async def test_storage_and_dashboard_agree_with_the_index(api: Api) -> None:
    admin = await api.headers()
    storage = (await api.client.get("/api/v1/storage", headers=admin)).json()
    usage = await api.index.usage()
    assert storage["recordings_bytes"] == usage.total_bytes
    assert {c["camera_id"] for c in storage["per_camera"]} == {"cam1", "cam2"}
    assert storage["filesystem_total_bytes"] > storage["filesystem_free_bytes"] > 0
    dashboard = (await api.client.get("/api/v1/dashboard", headers=admin)).json()
    assert dashboard["cameras"] == 2 and dashboard["online"] == 1  # cam1 is online


@pytest.mark.parametrize(
    "days",
    ["start=9999-12-31&end=9999-12-31", "start=0001-01-01&end=0001-01-01&tz=Asia/Tokyo"],
)
async def test_calendar_days_beyond_what_a_clock_can_hold_get_a_reason(api: Api, days: str) -> None:
    admin = await api.headers()
    response = await api.client.get(f"{BASE}/calendar?{days}", headers=admin)
    assert response.status_code == 400, response.text
    assert "years 2000 to 2100" in response.json()["error"]["message"]


async def test_event_footage_given_up_for_space_is_audited(api: Api) -> None:
    admin = await api.headers()
    storage = api.parts.context.storage
    detail = {"segments": 3, "bytes": 3000, "start_ms": 1, "end_ms": 2, "camera_ids": ["cam1"]}
    storage.publish(
        StorageAlert(
            AlertKind.EVENTS_DELETED, 80, 80, 86.5, "3 segments of event footage", 5, detail
        )
    )
    storage.publish(StorageAlert(AlertKind.BREAKER_OPENED, 95, 95, 97.0, "paused", 6))

    async def entries() -> list[dict[str, Any]]:
        response = await api.client.get("/api/v1/audit?action=storage.", headers=admin)
        return list(response.json())

    for _ in range(200):
        found = await entries()
        if len(found) == 2:
            break
        await asyncio.sleep(0.01)
    paused, deleted = found  # newest first
    assert deleted["action"] == "storage.events_deleted"
    assert deleted["actor"] == "system:retention"
    assert deleted["detail"]["segments"] == 3 and deleted["detail"]["camera_ids"] == ["cam1"]
    assert paused["action"] == "storage.recording_paused"


@pytest.mark.parametrize("damage", ["garbage", "cut short"])
async def test_a_damaged_recording_gives_a_reason_not_a_500(api: Api, damage: str) -> None:
    # Something outside the recorder damaged the newest file (the write order never leaves
    # one): the snapshot says why there is none.
    latest = (await api.segments("cam1"))[-1]
    path = api.config.data_dir / latest.path
    if damage == "garbage":
        path.write_bytes(b"\x00not an mp4 at all\xff" * 64)
    else:
        path.write_bytes(path.read_bytes()[: latest.init_bytes + 200])
    admin = await api.headers()
    response = await api.client.get(f"{BASE}/snapshot.jpg", headers=admin)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"].startswith("no snapshot: the recording")
