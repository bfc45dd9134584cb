"""The whole recorder on the camera profiles real cameras send (H.264 High with B-frames and
AAC, H.265), as a user sees it through the API: online, a playlist that plays across segment
boundaries, and a download that starts at 0."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from recorder.config import parse_config
from sim import CameraSpec, SimCluster
from sim.formats import StreamFormat
from sim.scenes import IdleScene
from tests.e2e.harness import TEST_API, camera_entry
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow

FORMATS = {
    "bframes": StreamFormat(640, 360, 25, 800, bframes=3, gop_s=2),
    "hevc": StreamFormat(640, 360, 15, 600, codec="h265"),
}
SPECS = [
    CameraSpec(
        name,
        IdleScene(duration_s=20),
        audio=name == "bframes",
        main=fmt,
        sub=StreamFormat(320, 180, fmt.fps, 200),
    )
    for name, fmt in FORMATS.items()
]
SEGMENTS_WANTED = 3


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecorderThread, str]]:
    data_dir = tmp_path_factory.mktemp("site")
    with SimCluster(SPECS) as cluster:
        config = parse_config(
            {
                "data_dir": str(data_dir),
                "cameras": [camera_entry(s.name, cluster.cameras[s.name]) for s in SPECS],
                "api": TEST_API,
                "storage": {"segment_seconds": 4},
            }
        )
        with RecorderThread(config) as thread:
            login = httpx.post(
                f"{thread.http_url}/api/v1/auth/login",
                json={"username": "admin", "password": thread.admin_password},
            )
            yield thread, login.json()["access_token"]


def playlist_lines(client: httpx.Client, camera: str, token: str) -> tuple[str, list[str]]:
    now = int(time.time() * 1000)
    url = f"/api/v1/cameras/{camera}/playback.m3u8?start={now - 120_000}&end={now}&token={token}"
    response = client.get(url)
    return url, response.text.splitlines() if response.status_code == 200 else []


@pytest.mark.parametrize("camera", list(FORMATS))
def test_the_playlist_plays_across_segment_boundaries_and_downloads_start_at_zero(
    site: tuple[RecorderThread, str], camera: str, tmp_path: Path
) -> None:
    thread, token = site
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=thread.http_url, timeout=10) as client:
        deadline = time.monotonic() + 90
        url, lines = playlist_lines(client, camera, token)
        while time.monotonic() < deadline:
            if sum(line.startswith("#EXTINF") for line in lines) >= SEGMENTS_WANTED:
                break
            time.sleep(0.5)
            url, lines = playlist_lines(client, camera, token)
        uris = [line for line in lines if line.startswith("segments/")]
        assert len(uris) >= SEGMENTS_WANTED, lines
        status = client.get(f"/api/v1/cameras/{camera}/status", headers=auth).json()
        assert status["state"] == "online"
        assert status["video_codec"] == ("hevc" if camera == "hevc" else "h264")
        assert lines.count("#EXT-X-DISCONTINUITY") == 0  # one run

        # Every frame of every file, fetched whole...
        packets = 0
        for uri in uris:
            body = client.get(f"/api/v1/cameras/{camera}/{uri}").content
            with av.open(io.BytesIO(body), "r") as container:
                packets += sum(1 for p in container.demux(video=0) if p.size)
        # ... decodes when FFmpeg's HLS demuxer plays the playlist over HTTP, as a player
        # would: init section, fragments, next file.
        with av.open(f"{thread.http_url}{url}") as container:
            decoded = sum(1 for _ in container.decode(video=0))
        assert decoded == packets

        # A segment a user downloads starts at 0 and holds every frame.
        second = uris[1].split("?")[0]
        download = client.get(f"/api/v1/cameras/{camera}/{second}?download=true", headers=auth)
        assert download.status_code == 200
        copy = tmp_path / "download.mp4"
        copy.write_bytes(download.content)
        stored = client.get(f"/api/v1/cameras/{camera}/{second}", headers=auth).content
        with av.open(io.BytesIO(stored), "r") as container:
            frames = sum(1 for p in container.demux(video=0) if p.size)
        with av.open(str(copy)) as container:
            assert container.start_time == 0
            assert sum(1 for _ in container.decode(video=0)) == frames
            assert len(container.streams.audio) == (1 if camera == "bframes" else 0)
