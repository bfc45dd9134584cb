"""Clips: exported by remuxing, keyframe or exact cut, with progress, Range, quota and rights."""

from __future__ import annotations

import asyncio
import io

import av
import pytest

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api

BASE = "/api/v1/cameras/cam1"


async def ready(api: Api, headers: dict[str, str], clip_id: int) -> dict[str, object]:
    for _ in range(200):
        clip = (await api.client.get(f"/api/v1/clips/{clip_id}", headers=headers)).json()
        if clip["status"] in ("ready", "failed"):
            return dict(clip)
        await asyncio.sleep(0.05)
    raise AssertionError("the clip never finished")


def frames_of(data: bytes) -> list[float]:
    with av.open(io.BytesIO(data), "r") as container:
        return [float(f.time) for f in container.decode(video=0)]


@pytest.mark.parametrize("exact", [False, True])
async def test_clip_across_two_segments_has_the_right_duration(api: Api, exact: bool) -> None:
    admin = await api.headers()
    first = (await api.segments("cam1"))[0]
    start, end = first.start_ms + 6_500, first.start_ms + 21_500  # 15 s over 3 segments
    created = await api.client.post(
        f"{BASE}/clips",
        json={"start": str(start), "end": str(end), "exact": exact, "name": "front door"},
        headers=admin,
    )
    assert created.status_code == 202, created.text
    clip = await ready(api, admin, created.json()["id"])
    assert clip["status"] == "ready", clip
    download = await api.client.get(f"/api/v1/clips/{clip['id']}/download", headers=admin)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert len(download.content) == clip["bytes"]
    times = frames_of(download.content)
    # A keyframe cut starts at the keyframe before `start` (1 s GOP: up to 1 s earlier).
    expected_s = 15.0 if exact else (end - (start - 500)) / 1000
    assert len(times) == pytest.approx(expected_s * 15, abs=3)
    assert times[0] == pytest.approx(0.0, abs=0.07)


async def test_clip_download_supports_range(api: Api) -> None:
    admin = await api.headers()
    first = (await api.segments("cam1"))[0]
    created = await api.client.post(
        f"{BASE}/clips",
        json={"start": str(first.start_ms), "end": str(first.start_ms + 5_000)},
        headers=admin,
    )
    clip = await ready(api, admin, created.json()["id"])
    url = f"/api/v1/clips/{clip['id']}/download"
    part = await api.client.get(url, headers={**admin, "Range": "bytes=100-199"})
    whole = await api.client.get(url, headers=admin)
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert (
        await api.client.delete(f"/api/v1/clips/{clip['id']}", headers=admin)
    ).status_code == 204
    assert (await api.client.get(url, headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("offsets", "status", "reason"),
    [
        ((5_000, 1_000), 400, "end must be after start"),
        ((0, 3_700_000), 400, "at most one hour"),
        ((-100_000, -50_000), 404, "no recordings"),
    ],
)
async def test_bad_clip_requests_are_refused(
    api: Api, offsets: tuple[int, int], status: int, reason: str
) -> None:
    admin = await api.headers()
    t0 = (await api.segments("cam1"))[0].start_ms
    response = await api.client.post(
        f"{BASE}/clips",
        json={"start": str(t0 + offsets[0]), "end": str(t0 + offsets[1])},
        headers=admin,
    )
    assert response.status_code == status and reason in response.text


async def test_clip_quota_is_enforced(api: Api) -> None:
    admin = await api.headers()
    api.parts.context.clips.max_bytes = 100_000
    t0 = (await api.segments("cam1"))[0].start_ms
    response = await api.client.post(
        f"{BASE}/clips", json={"start": str(t0), "end": str(t0 + 20_000)}, headers=admin
    )
    assert response.status_code == 409 and "quota" in response.text


async def test_export_right_is_needed_and_clips_of_other_cameras_are_hidden(api: Api) -> None:
    admin = await api.headers()
    t0 = (await api.segments("cam1"))[0].start_ms
    created = await api.client.post(
        f"{BASE}/clips", json={"start": str(t0), "end": str(t0 + 3_000)}, headers=admin
    )
    clip_id = created.json()["id"]
    await ready(api, admin, clip_id)
    viewer = await api.add_user("wanda", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    operator = await api.add_user("olga", Role.OPERATOR, {"cam2": {Right.EXPORT}})
    for headers in (viewer, operator):
        body = {"start": str(t0), "end": str(t0 + 3_000)}
        assert (
            await api.client.post(f"{BASE}/clips", json=body, headers=headers)
        ).status_code == 403
        # By id, a clip of another camera looks exactly like one that does not exist.
        for suffix in ("", "/download"):
            hidden = await api.client.get(f"/api/v1/clips/{clip_id}{suffix}", headers=headers)
            absent = await api.client.get(f"/api/v1/clips/{2**40}{suffix}", headers=headers)
            assert hidden.status_code == absent.status_code == 404, hidden.text
            assert hidden.json()["error"]["message"] == f"no clip {clip_id}"
            assert absent.json()["error"]["message"] == f"no clip {2**40}"
        deleted = await api.client.delete(f"/api/v1/clips/{clip_id}", headers=headers)
        assert deleted.status_code == 404
        assert (await api.client.get("/api/v1/clips", headers=headers)).json() == []


async def test_a_clip_of_a_damaged_recording_fails_with_the_reason(api: Api) -> None:
    # A file damaged behind the recorder's back (the write order never leaves one).
    first = (await api.segments("cam1"))[0]
    (api.config.data_dir / first.path).write_bytes(b"\x00not an mp4\xff" * 100)
    admin = await api.headers()
    created = await api.client.post(
        f"{BASE}/clips",
        json={"start": str(first.start_ms), "end": str(first.start_ms + 5_000)},
        headers=admin,
    )
    assert created.status_code == 202, created.text
    clip = await ready(api, admin, created.json()["id"])
    assert clip["status"] == "failed" and str(clip["error"]).startswith("cannot export the clip: ")
    download = await api.client.get(f"/api/v1/clips/{clip['id']}/download", headers=admin)
    assert 400 <= download.status_code < 500
