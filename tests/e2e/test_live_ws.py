"""Live fMP4 over a WebSocket, end to end: a simulated camera, the real recorder, a real client."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from recorder.accounts.model import Right, Role
from recorder.config import parse_config
from sim import CameraSpec, Fault, SimCluster
from tests.e2e.harness import camera_entry
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow
HEADER = struct.Struct(">BB6xdd")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecorderThread]:
    specs = [
        CameraSpec("front", "motion"),
        CameraSpec("back", "pattern"),
        CameraSpec("flaky", "idle", fault=Fault.drop(8)),
    ]
    data_dir = tmp_path_factory.mktemp("live-ws")
    with SimCluster(specs) as cluster:
        config = parse_config(
            {
                "data_dir": str(data_dir),
                "cameras": [camera_entry(s.name, cluster.cameras[s.name]) for s in specs],
                "api": {"http_port": 0, "https": False},
            }
        )
        with RecorderThread(config) as thread:
            yield thread


def token_for(thread: RecorderThread, username: str, password: str) -> str:
    response = httpx.post(
        f"{thread.http_url}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def ws_url(thread: RecorderThread, camera: str, stream: str) -> str:
    return (
        thread.http_url.replace("http://", "ws://")
        + f"/api/v1/cameras/{camera}/live.ws?stream={stream}"
    )


async def collect(url: str, token: str, frames: int) -> tuple[str, bytes, list[tuple[float, bool]]]:
    """(codec, init + fragments, [(arrival at the client - arrival at the recorder, keyframe)])"""
    codec, data, frames_seen = "", b"", []
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        while len(frames_seen) < frames:
            message = await asyncio.wait_for(socket.recv(), 15)
            if isinstance(message, str):
                body = json.loads(message)
                if body["type"] == "init":
                    codec = body["codec"]
                continue
            kind, flags, wall_ms, _media_s = HEADER.unpack_from(message)
            if kind == 0:
                data = message[HEADER.size :]
            elif data:
                data += message[HEADER.size :]
                frames_seen.append((time.time() * 1000 - wall_ms, bool(flags & 1)))
    return codec, data, frames_seen


def test_substream_frames_arrive_one_by_one_and_decode(
    site: RecorderThread, tmp_path: Path
) -> None:
    token = token_for(site, "admin", site.admin_password)
    started = time.monotonic()
    codec, data, frames = asyncio.run(collect(ws_url(site, "front", "sub"), token, 45))
    elapsed = time.monotonic() - started
    assert codec.startswith("avc1.")
    # A fragment per frame: 45 frames at 15 fps take about 3 s (less: the last GOP comes at once).
    assert elapsed < 10
    assert frames[0][1], "a viewer starts at a keyframe"
    assert sum(1 for _, key in frames if key) >= 2  # 1 s GOPs: not one fragment per GOP
    assert all(delay < 1000 for delay, _ in frames), "frames are relayed as they arrive"
    path = tmp_path / "live.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        decoded = [f for f in container.decode(video=0)]
    assert len(decoded) == len(frames)
    assert (decoded[0].width, decoded[0].height) == (640, 360)  # the substream


def test_main_stream_is_full_size(site: RecorderThread, tmp_path: Path) -> None:
    token = token_for(site, "admin", site.admin_password)
    _codec, data, _frames = asyncio.run(collect(ws_url(site, "back", "main"), token, 5))
    path = tmp_path / "main.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
    assert (first.width, first.height) == (1280, 720)


async def close_code(url: str, token: str | None) -> int | None:
    async with websockets.connect(url) as socket:
        if token is not None:
            await socket.send(json.dumps({"type": "auth", "token": token}))
        try:
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def test_refuses_without_token_and_without_the_live_right(site: RecorderThread) -> None:
    url = ws_url(site, "front", "sub")
    assert asyncio.run(close_code(url + "&token=not-a-token", None)) == 4401

    async def add_viewer() -> None:
        accounts = site.recorder.api.context.accounts  # type: ignore[union-attr]
        user = await accounts.create("watcher", "pw-watcher-123", Role.VIEWER)
        await accounts.set_rights(user.id, "back", frozenset({Right.LIVE}))

    future = asyncio.run_coroutine_threadsafe(add_viewer(), site._loop)  # type: ignore[arg-type]
    future.result(10)
    token = token_for(site, "watcher", "pw-watcher-123")
    assert asyncio.run(close_code(url, token)) == 4403  # no right on front
    assert asyncio.run(close_code(ws_url(site, "nope", "sub"), token)) == 4403  # nor a hint
    _codec, _data, frames = asyncio.run(collect(ws_url(site, "back", "sub"), token, 3))
    assert len(frames) == 3


async def first_frames_by_subprotocol(url: str, protocols: list[str]) -> tuple[str | None, int]:
    """(the subprotocol the recorder chose, binary messages received) with the token offered
    in the handshake and no message ever sent."""
    async with websockets.connect(url, subprotocols=protocols) as socket:
        chosen = socket.subprotocol
        binary = 0
        while binary < 3:  # the init section and two frames
            if not isinstance(await asyncio.wait_for(socket.recv(), 15), str):
                binary += 1
    return chosen, binary


async def close_code_by_subprotocol(url: str, token: str) -> int | None:
    protocols = ["skycam.live", f"skycam.token.{token}"]
    async with websockets.connect(url, subprotocols=protocols) as socket:
        try:
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def test_the_token_may_come_with_the_handshake(site: RecorderThread) -> None:
    """Offered as a subprotocol, the token needs no first message: frames come unasked."""
    token = token_for(site, "admin", site.admin_password)
    url = ws_url(site, "front", "sub")
    chosen, binary = asyncio.run(
        first_frames_by_subprotocol(url, ["skycam.live", f"skycam.token.{token}"])
    )
    assert chosen == "skycam.live" and binary == 3
    assert asyncio.run(close_code_by_subprotocol(url, "not-a-token")) == 4401
    revoked = token_for(site, "admin", site.admin_password)
    httpx.post(
        f"{site.http_url}/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {revoked}"},
        timeout=10,
    ).raise_for_status()
    assert asyncio.run(close_code_by_subprotocol(url, revoked)) == 4401


async def through_a_drop(url: str, token: str, deadline_s: float) -> list[str]:
    """What a viewer sees while the camera drops its clients: status, init and frame events."""
    seen: list[str] = []
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            message = await asyncio.wait_for(socket.recv(), 15)
            if isinstance(message, str):
                body = json.loads(message)
                seen.append(body.get("state") or body["type"])
            elif not seen or seen[-1] != "frame":
                seen.append("frame")
            if "lost" in seen and seen[-1] == "frame" and seen.count("init") >= 2:
                break
    return seen


def test_a_viewer_sees_signal_lost_then_the_stream_again(site: RecorderThread) -> None:
    token = token_for(site, "admin", site.admin_password)
    seen = asyncio.run(through_a_drop(ws_url(site, "flaky", "sub"), token, 40))
    assert "lost" in seen, seen
    after = seen[seen.index("lost") :]
    assert "init" in after and after[-1] == "frame", seen  # a new init section, then frames
