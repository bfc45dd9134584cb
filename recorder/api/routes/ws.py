"""/api/v1/ws: real-time camera status, storage alarms and motion events.

Browsers cannot set headers on a WebSocket, so the client authenticates with `?token=` or, to
keep the token out of URLs, with a first message `{"type": "auth", "token": "..."}` within 5 s.
The server then sends `hello` with the current status of every camera the user may see, and
afterwards every change as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from recorder.api.context import ApiContext
from recorder.api.routes.cameras import status_of, visible
from recorder.api.security import authenticate
from recorder.errors import RequestError

router = APIRouter()
AUTH_TIMEOUT_S = 5.0
CLOSE_UNAUTHENTICATED = 4401


async def _token(websocket: WebSocket) -> str | None:
    if token := websocket.query_params.get("token"):
        return token
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        message = json.loads(first)
    except (TimeoutError, json.JSONDecodeError, WebSocketDisconnect):
        return None
    if isinstance(message, dict) and message.get("type") == "auth":
        token = message.get("token")
        return token if isinstance(token, str) else None
    return None


@router.websocket("/ws")
async def realtime(websocket: WebSocket) -> None:
    ctx: ApiContext = websocket.app.state.ctx
    await websocket.accept()
    try:
        principal = await authenticate(ctx, await _token(websocket))
    except RequestError as exc:
        await websocket.close(CLOSE_UNAUTHENTICATED, str(exc)[:120])
        return
    subscriber = ctx.hub.subscribe(principal)
    try:
        cameras = [
            {"camera_id": c.id, **status_of(ctx.health.get(c.id)).model_dump()}
            for c in ctx.cameras.all()
            if visible(principal, c.id)
        ]
        await websocket.send_json({"type": "hello", "user": principal.username, "cameras": cameras})
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(subscriber.queue.get())
            await asyncio.wait([getter, receiver], return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.hub.unsubscribe(subscriber)
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
