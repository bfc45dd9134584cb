"""Live video over WebSocket stops at once when the viewer's access ends, not at the next
periodic re-check (RECHECK_S, 30 s): same signal as the realtime WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from recorder.accounts.model import Right, Role
from recorder.api.routes.live_ws import RECHECK_S
from tests.api.conftest import Api, served

DEADLINE_S = 10.0  # generous for a loaded machine, and still well under RECHECK_S


@pytest.fixture
async def port(api: Api, tmp_path: Path) -> AsyncIterator[int]:
    async with served(api, tmp_path) as port:
        yield port


async def _watching(port: int, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/cameras/cam1/live.ws?stream=main")
    await ws.send(json.dumps({"type": "auth", "token": token}))
    first = await asyncio.wait_for(ws.recv(), DEADLINE_S)  # the stream is open: status or video
    assert first
    return ws


async def _close_code(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), DEADLINE_S)
    return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.parametrize("how", ["rights", "disable", "logout"])
async def test_live_video_ends_at_once_when_access_ends(api: Api, port: int, how: str) -> None:
    assert DEADLINE_S < RECHECK_S
    tokens = await api.login_as_new("vera", Role.VIEWER, {"cam1": {Right.LIVE}})
    user = await api.parts.context.accounts.find("vera")
    assert user is not None
    ws = await _watching(port, tokens["access_token"])
    admin = await api.headers()
    if how == "rights":
        answer = await api.client.put(
            f"/api/v1/users/{user.id}/cameras/cam1", json={"rights": []}, headers=admin
        )
    elif how == "disable":
        answer = await api.client.patch(
            f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin
        )
    else:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        answer = await api.client.post("/api/v1/auth/logout", headers=bearer)
    assert answer.status_code in (200, 204), answer.text
    ended = time.monotonic()
    code = await _close_code(ws)
    assert code == (4403 if how == "rights" else 4401)
    assert time.monotonic() - ended < 2.0
