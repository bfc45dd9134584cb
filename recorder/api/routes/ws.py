"""/api/v1/ws: real-time camera status, storage alarms and motion events.

Browsers cannot set headers on a WebSocket, so the client authenticates with `?token=` or, to
keep the token out of URLs, with a first message `{"type": "auth", "token": "..."}` within 5 s.
The server then sends `hello` with the current status of every camera the user may see, and
afterwards every change as it happens.

Access is not checked only at the door: the connection listens to the site's `AccessSignal`
and, when a change concerns its user or session, re-reads both. A session ended (logout, reuse,
password reset) or an account disabled or deleted closes the socket with 4401 at once; changed
rights replace the principal, so nothing more (queued or new) goes out about a camera the user
may no longer see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from recorder.accounts.model import Principal
from recorder.accounts.revocation import AccessChange
from recorder.api.context import ApiContext
from recorder.api.routes.cameras import status_of, visible
from recorder.api.security import authenticate
from recorder.errors import NotFound, RequestError

router = APIRouter()
AUTH_TIMEOUT_S = 5.0
CLOSE_UNAUTHENTICATED = 4401
# Changes made in this process are announced at once; one made by another (the `skycam user`
# CLI writing the site database) is caught by this periodic re-check instead.
RECHECK_S = 60.0


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
    recheck = asyncio.Event()

    def on_change(change: AccessChange) -> None:
        if change.concerns(principal.user_id, principal.session):
            recheck.set()

    stop_listening = ctx.signal.subscribe(on_change)
    receiver: asyncio.Task[None] | None = None
    try:
        cameras = [
            {"camera_id": c.id, **status_of(ctx.health.get(c.id)).model_dump()}
            for c in ctx.cameras.all()
            if visible(principal, c.id)
        ]
        await websocket.send_json({"type": "hello", "user": principal.username, "cameras": cameras})
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(subscriber.next_message())
            rechecker = asyncio.create_task(recheck.wait())
            done, _ = await asyncio.wait(
                [getter, receiver, rechecker],
                timeout=RECHECK_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            rechecker.cancel()
            if not done:
                recheck.set()  # the backstop: a change no signal announced
            if recheck.is_set():
                getter.cancel()
                recheck.clear()
                current = await _still_allowed(ctx, subscriber.principal)
                if current is None:
                    await websocket.close(CLOSE_UNAUTHENTICATED, "access ended")
                    return
                subscriber.principal = current
            elif getter.done():
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        stop_listening()
        ctx.hub.unsubscribe(subscriber)
        if receiver is not None:
            receiver.cancel()
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _still_allowed(ctx: ApiContext, principal: Principal) -> Principal | None:
    """The principal as the site database has it now, or None if its access has ended."""
    if not await ctx.tokens.session_active(principal.session):
        return None
    try:
        user = await ctx.accounts.get(principal.user_id)
    except NotFound:
        return None
    if user.disabled:
        return None
    return Principal(user.id, user.username, user.role, user.rights, principal.session)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
