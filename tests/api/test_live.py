"""Live HLS: a playlist of 1 s fMP4 segments that decode, muxed from the camera's packets."""

from __future__ import annotations

import itertools

import av
import pytest

from tests.api.conftest import Api

BASE = "/api/v1/cameras/cam1"


async def test_live_playlist_segments_decode_as_continuous_video(api: Api) -> None:
    admin = await api.headers()
    playlist = await api.client.get(f"{BASE}/live.m3u8", headers=admin)
    assert playlist.status_code == 200, playlist.text
    lines = playlist.text.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-ENDLIST" not in lines
    uris = [line for line in lines if line.startswith("live/") and line.endswith(".m4s")]
    maps = [line for line in lines if line.startswith("#EXT-X-MAP")]
    durations = [float(x.split(":")[1].rstrip(",")) for x in lines if x.startswith("#EXTINF")]
    assert len(uris) >= 5 and len(maps) == 1  # one connection: one init section
    assert all(d == pytest.approx(1.0, abs=0.1) for d in durations)  # one GOP each
    init_uri = maps[0].split('URI="')[1].rstrip('"')
    data = (await api.client.get(f"{BASE}/{init_uri}", headers=admin)).content
    for uri in uris:
        response = await api.client.get(f"{BASE}/{uri}", headers=admin)
        assert response.status_code == 200
        data += response.content
    path = api.config.data_dir / "live.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stamps = [frame.time for frame in container.decode(video=0)]
    assert len(stamps) == pytest.approx(sum(durations) * 15, abs=2)
    steps = [b - a for a, b in itertools.pairwise(stamps) if a is not None and b]
    assert max(steps) < 0.1, "decode times continue from one segment to the next"


async def test_expired_or_unknown_live_segments_are_404(api: Api) -> None:
    admin = await api.headers()
    await api.client.get(f"{BASE}/live.m3u8", headers=admin)
    assert (await api.client.get(f"{BASE}/live/999999.m4s", headers=admin)).status_code == 404
    assert (await api.client.get(f"{BASE}/live/init-77.mp4", headers=admin)).status_code == 404
    # cam2 has no live stream in this setup: a clear 404, not a crash.
    response = await api.client.get("/api/v1/cameras/cam2/live.m3u8", headers=admin)
    assert response.status_code == 404 and "live" in response.text


async def test_live_stops_after_30_s_without_requests(api: Api) -> None:
    admin = await api.headers()
    await api.client.get(f"{BASE}/live.m3u8", headers=admin)
    live = api.parts.context.live("cam1")
    assert live is not None and live.active
    api.clock.advance(20)
    assert not live.stop_if_idle()
    api.clock.advance(11)
    assert live.stop_if_idle() and not live.has_segments()
