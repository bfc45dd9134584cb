"""The realtime WebSocket over a real loopback socket: access that ends closes it at once, and
rights taken away stop what it sends about that camera."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from recorder.accounts.model import Right, Role
from recorder.capture.health import CameraState
from tests.api.conftest import Api, served

DEADLINE_S = 10.0  # generous: the machine is shared; closing is expected within milliseconds


@pytest.fixture
async def ws_url(api: Api, tmp_path: Path) -> AsyncIterator[str]:
    async with served(api, tmp_path) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


async def _connect(url: str, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    hello = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))
    assert hello["type"] == "hello"
    return ws


async def _closed_code(ws: websockets.ClientConnection) -> int | None:
    """Wait for the server to close (every message before that is ignored)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), DEADLINE_S)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def _status_messages(ws: websockets.ClientConnection, quiet_s: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))
        except TimeoutError:
            return out


async def _viewer(api: Api, *cameras: str) -> tuple[int, dict[str, str]]:
    rights = {camera: {Right.LIVE} for camera in cameras or ("cam1",)}
    tokens = await api.login_as_new("wendy", Role.VIEWER, rights)
    user = await api.parts.context.accounts.find("wendy")
    assert user is not None
    return user.id, tokens


Ending = Callable[[Api, int, dict[str, str]], Awaitable[None]]


async def _logout(api: Api, _user_id: int, tokens: dict[str, str]) -> None:
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await api.client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204


async def _disable(api: Api, user_id: int, _tokens: dict[str, str]) -> None:
    admin = await api.headers()
    answer = await api.client.patch(
        f"/api/v1/users/{user_id}", json={"disabled": True}, headers=admin
    )
    assert answer.status_code == 200, answer.text


async def _reset_password(api: Api, user_id: int, _tokens: dict[str, str]) -> None:
    admin = await api.headers()
    answer = await api.client.patch(
        f"/api/v1/users/{user_id}", json={"password": "a-new-pw-4567"}, headers=admin
    )
    assert answer.status_code == 200, answer.text


async def _delete(api: Api, user_id: int, _tokens: dict[str, str]) -> None:
    admin = await api.headers()
    answer = await api.client.delete(f"/api/v1/users/{user_id}", headers=admin)
    assert answer.status_code == 204, answer.text


async def _reuse_refresh(api: Api, _user_id: int, tokens: dict[str, str]) -> None:
    refresh = {"refresh_token": tokens["refresh_token"]}
    assert (await api.client.post("/api/v1/auth/refresh", json=refresh)).status_code == 200
    assert (await api.client.post("/api/v1/auth/refresh", json=refresh)).status_code == 401


@pytest.mark.parametrize(
    "end_access",
    [_logout, _disable, _reset_password, _delete, _reuse_refresh],
    ids=["logout", "disable", "password-reset", "delete", "refresh-reuse"],
)
async def test_access_that_ends_closes_the_websocket_at_once(
    api: Api, ws_url: str, end_access: Ending
) -> None:
    user_id, tokens = await _viewer(api)
    ws = await _connect(ws_url, tokens["access_token"])
    await end_access(api, user_id, tokens)
    ended = time.monotonic()
    # Anything the recorder publishes from now on must not reach this user.
    api.health.update("cam1", state=CameraState.OFFLINE, reason="after the end")
    code = await _closed_code(ws)
    took = time.monotonic() - ended
    print(f"closed {took * 1000:.1f} ms after access ended")
    assert code == 4401
    assert took < 2.0  # at once (milliseconds when idle), not at the token's expiry


async def test_rights_taken_away_stop_what_the_websocket_sends(api: Api, ws_url: str) -> None:
    user_id, tokens = await _viewer(api, "cam1", "cam2")
    ws = await _connect(ws_url, tokens["access_token"])
    api.health.update("cam1", state=CameraState.OFFLINE, reason="before")
    before = await _status_messages(ws, 1.0)
    assert [m["reason"] for m in before if m["type"] == "camera.status"] == ["before"]

    admin = await api.headers()
    answer = await api.client.put(
        f"/api/v1/users/{user_id}/cameras/cam1", json={"rights": []}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    for n in range(3):
        api.health.update("cam1", state=CameraState.ONLINE if n % 2 else CameraState.OFFLINE,
                          reason=f"after {n}")  # fmt: skip
    api.health.update("cam2", state=CameraState.OFFLINE, reason="still visible")
    after = await _status_messages(ws, 1.5)
    assert [m for m in after if m.get("camera_id") == "cam1"] == []
    assert [m["reason"] for m in after if m.get("camera_id") == "cam2"] == ["still visible"]
    await ws.close()
