"""The API end to end: a simulated camera, the real recorder, HTTPS and WebSocket clients."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest
import websockets

from recorder.capture.health import CameraHealth, CameraState
from recorder.config import parse_config
from sim import CameraSpec, Fault, SimCluster
from tests.e2e.harness import camera_entry
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecorderThread, Path]]:
    specs = [CameraSpec("front", "motion"), CameraSpec("flaky", "idle", fault=Fault.drop(12))]
    data_dir = tmp_path_factory.mktemp("site")
    with SimCluster(specs) as cluster:
        config = parse_config(
            {
                "data_dir": str(data_dir),
                "cameras": [camera_entry(s.name, cluster.cameras[s.name]) for s in specs],
                "api": {"http_port": 0, "https_port": 0, "https_host": "127.0.0.1"},
            }
        )
        with RecorderThread(config) as thread:
            yield thread, data_dir


def https_client(thread: RecorderThread, data_dir: Path) -> httpx.Client:
    # Trust exactly the certificate the recorder generated, as a user who installed it would.
    context = ssl.create_default_context(cafile=str(data_dir / "secrets" / "lan-cert.pem"))
    return httpx.Client(base_url=thread.https_url, verify=context, timeout=10)


def test_https_login_snapshot_and_playback(site: tuple[RecorderThread, Path]) -> None:
    thread, data_dir = site
    with https_client(thread, data_dir) as client:
        login = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": thread.admin_password}
        )
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cameras = {c["id"]: c for c in client.get("/api/v1/cameras", headers=headers).json()}
            if cameras["front"]["status"]["state"] == "online":
                break
            time.sleep(0.5)
        assert cameras["front"]["status"]["width"] == 1280

        started = time.monotonic()
        snap = client.get("/api/v1/cameras/front/snapshot.jpg", headers=headers)
        elapsed = time.monotonic() - started
        assert snap.status_code == 200 and elapsed < 1.0
        image = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (720, 1280, 3)
        taken = int(snap.headers["X-Taken-At-Ms"])
        assert time.time() * 1000 - taken < 2500  # the newest keyframe: at most ~1 GOP old

        deadline = time.monotonic() + 90
        while True:  # until two segments at least are recorded and indexed
            now = int(time.time() * 1000)
            query = f"start={now - 40_000}&end={now}"
            playlist = client.get(f"/api/v1/cameras/front/playback.m3u8?{query}", headers=headers)
            lines = playlist.text.splitlines()
            uris = [line for line in lines if line.startswith("segments/")]
            if (playlist.status_code == 200 and len(uris) >= 2) or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # 404 until the first segment is indexed
        assert playlist.status_code == 200
        ranges = [line.split(":")[1] for line in lines if line.startswith("#EXT-X-BYTERANGE")]
        maps = [line for line in lines if line.startswith("#EXT-X-MAP")]
        assert len(uris) >= 2
        extinf = sum(float(x.split(":")[1].rstrip(",")) for x in lines if x.startswith("#EXTINF"))
        frames = 0
        for uri, byterange, map_line in zip(uris, ranges, maps, strict=True):
            init_len = int(map_line.split('BYTERANGE="')[1].split("@")[0])
            length, offset = (int(v) for v in byterange.split("@"))
            url = f"/api/v1/cameras/front/{uri}"
            init = client.get(url, headers={**headers, "Range": f"bytes=0-{init_len - 1}"})
            media = client.get(
                url, headers={**headers, "Range": f"bytes={offset}-{offset + length - 1}"}
            )
            assert init.status_code == media.status_code == 206
            with av.open(io.BytesIO(init.content + media.content), "r") as container:
                frames += sum(1 for _ in container.decode(video=0))
        assert frames == pytest.approx(extinf * 15, rel=0.02)

        timeline = client.get(f"/api/v1/cameras/front/timeline?{query}", headers=headers).json()
        assert len(timeline["runs"]) == 1


def test_realtime_status_reaches_clients_within_500_ms(site: tuple[RecorderThread, Path]) -> None:
    thread, _ = site
    changes: list[tuple[float, str, str]] = []  # when the recorder saw each status change

    def note(health: CameraHealth) -> None:
        changes.append((time.monotonic(), health.camera_id, health.state.value))

    thread.call(thread.recorder.health.subscribe, note)
    login = httpx.post(
        f"{thread.http_url}/api/v1/auth/login",
        json={"username": "admin", "password": thread.admin_password},
    )
    token = login.json()["access_token"]
    ws_url = thread.http_url.replace("http://", "ws://") + "/api/v1/ws"

    async def listen() -> list[tuple[float, dict[str, object]]]:
        received: list[tuple[float, dict[str, object]]] = []
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"
            assert {c["camera_id"] for c in hello["cameras"]} == {"front", "flaky"}
            deadline = time.monotonic() + 40  # the flaky camera drops every 12 s
            while time.monotonic() < deadline and len(received) < 4:
                try:
                    raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except TimeoutError:
                    break
                received.append((time.monotonic(), json.loads(raw)))
        return received

    received = asyncio.run(listen())
    flaky = [(t, m) for t, m in received if m.get("camera_id") == "flaky"]
    assert any(m["state"] == CameraState.OFFLINE.value for _, m in flaky), received
    latencies = []
    for at, message in flaky:
        seen = [t for t, cam, state in changes if (cam, state) == ("flaky", message["state"])]
        before = [t for t in seen if t <= at]
        assert before, f"message before the change it reports: {message}"
        latencies.append(at - before[-1])
    assert latencies and max(latencies) < 0.5, latencies


def test_websocket_refuses_a_bad_token(site: tuple[RecorderThread, Path]) -> None:
    thread, _ = site
    ws_url = thread.http_url.replace("http://", "ws://") + "/api/v1/ws?token=forged"

    async def attempt() -> int | None:
        async with websockets.connect(ws_url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(attempt()) == 4401


def test_live_view_starts_fast_and_stays_close_to_real_time(
    site: tuple[RecorderThread, Path],
) -> None:
    thread, _ = site
    with httpx.Client(base_url=thread.http_url, timeout=10) as client:
        login = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": thread.admin_password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = time.monotonic()
        first = client.get("/api/v1/cameras/front/live.m3u8", headers=headers)
        start_s = time.monotonic() - started
        assert first.status_code == 200, first.text
        assert start_s < 2.0, f"live start took {start_s:.2f} s"
        # Poll as a player does; each new segment's last frame is at most ~1 GOP old.
        lags = []
        seen: set[str] = set()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            text = client.get("/api/v1/cameras/front/live.m3u8", headers=headers).text
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if line.endswith(".m4s") and line not in seen:
                    seen.add(line)
                    stamp = lines[i - 2].split(":", 1)[1]
                    duration = float(lines[i - 1].split(":")[1].rstrip(","))
                    begun = datetime.fromisoformat(stamp).timestamp()
                    lags.append(time.time() - (begun + duration))
            time.sleep(0.2)
        new = lags[-4:]  # the ones that appeared while we polled
        assert new and max(new) < 1.5, lags
