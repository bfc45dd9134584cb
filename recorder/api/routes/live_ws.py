"""WS /api/v1/cameras/{id}/live.ws: live video as one fMP4 fragment per frame (docs/ref/api.md).

Authentication is the one of /api/v1/ws (`?token=` or a first `{"type": "auth"}` message), or
the access token offered as a subprotocol, `skycam.token.<token>` beside `skycam.live` (the one
the recorder selects): the browser sends it with the handshake, so the first frames leave as
soon as the socket is accepted instead of a round trip later (the auth message waits for the
page's `onopen`, 100 ms median on a busy page, bench/web.py); a header is never written to an
access log, where a `?token=` URL would be. Then the live right on the camera.

The caller is checked again as soon as the recorder's access signal
(recorder/accounts/revocation.py) says its user or session changed, so a revoked session, a
disabled user or a withdrawn right ends the stream at once; and every `RECHECK_S` as a backstop
for a change no signal announced (the `skycam user` command writes from another process).

Text messages are JSON: `{"type": "status", "state", "reason"}` and `{"type": "init", "codec"}`
(the next binary message is the init section). Binary messages start with a 24-byte header:
kind (0 init, 1 fragment), flags (bit 0: keyframe), 6 reserved bytes, then two big-endian
float64: the frame's arrival time at the recorder (ms since 1970) and its decode time on the
stream's timeline (s); the fMP4 bytes follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from recorder.accounts.model import Principal, Right
from recorder.accounts.revocation import AccessChange
from recorder.api.context import ApiContext
from recorder.api.routes.ws import CLOSE_UNAUTHENTICATED, _token
from recorder.api.security import authenticate
from recorder.clock import pause
from recorder.errors import NotFound, RequestError
from recorder.media.live_feed import Kind, LiveFeeds, LiveMessage, LiveViewer

router = APIRouter()
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
RECHECK_S = 30.0
STREAMS = ("main", "sub")
PROTOCOL = "skycam.live"
TOKEN_PROTOCOL = "skycam.token."  # followed by the access token (a JWT: token characters only)
_HEADER = struct.Struct(">BB6xdd")


def feeds_of(websocket: HTTPConnection) -> LiveFeeds:
    """The app's live feeds (shared by the LAN WebSocket and remote live uploads)."""
    feeds: LiveFeeds | None = getattr(websocket.app.state, "live_feeds", None)
    if feeds is None:
        ctx: ApiContext = websocket.app.state.ctx
        feeds = LiveFeeds(ctx.opener, ctx.clock)
        websocket.app.state.live_feeds = feeds
    return feeds


def encode(message: LiveMessage) -> bytes | str:
    if message.kind is Kind.STATUS:
        return json.dumps({"type": "status", "state": message.state, "reason": message.reason})
    header = _HEADER.pack(
        int(message.kind), int(message.keyframe), message.wall_ms, message.media_s
    )
    return header + message.data


async def _allowed(ctx: ApiContext, token: str | None, camera_id: str) -> Principal | int:
    """The principal, or the close code that refuses it."""
    try:
        principal = await authenticate(ctx, token)
    except RequestError:
        return CLOSE_UNAUTHENTICATED
    if not principal.can(camera_id, Right.LIVE):
        return CLOSE_FORBIDDEN  # same answer whether or not the camera exists
    try:
        ctx.camera(camera_id)
    except NotFound:
        return CLOSE_NOT_FOUND
    return principal


@router.websocket("/cameras/{camera_id}/live.ws")
async def live_video(websocket: WebSocket, camera_id: str, stream: str = "main") -> None:
    ctx: ApiContext = websocket.app.state.ctx
    offered: list[str] = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    given = [p.removeprefix(TOKEN_PROTOCOL) for p in offered if p.startswith(TOKEN_PROTOCOL)]
    token = given[0] if given else await _token(websocket)
    allowed = await _allowed(ctx, token, camera_id)
    if isinstance(allowed, int) or stream not in STREAMS:
        code, reason = (
            (allowed, "not allowed to watch this camera")
            if isinstance(allowed, int)
            else (1008, "stream must be main or sub")
        )
        with contextlib.suppress(RuntimeError):  # the client may have gone already
            await websocket.close(code, reason)
        return
    camera = ctx.camera(camera_id)
    viewer = LiveViewer(ctx.clock)
    feed = feeds_of(websocket).watch(camera_id, stream, camera.stream_url(stream), viewer)
    # Audited while the first frames go out: the site database commits with fsync, and the
    # first picture should not wait for the disk.
    audit = asyncio.create_task(
        ctx.audit.record(
            "video.live",
            allowed.username,
            camera_id=camera_id,
            client=websocket.client.host if websocket.client else "",
        )
    )
    receiver = asyncio.create_task(_drain(websocket))
    checker = asyncio.create_task(_recheck(ctx, token, camera_id, allowed))
    try:
        while not receiver.done() and not checker.done():
            getter = asyncio.create_task(viewer.next())
            await asyncio.wait([getter, receiver, checker], return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            message = getter.result()
            if message.kind is Kind.INIT:
                await websocket.send_text(json.dumps({"type": "init", "codec": message.codec}))
            payload = encode(message)
            if isinstance(payload, str):
                await websocket.send_text(payload)
            else:
                await websocket.send_bytes(payload)
        if checker.done():
            await websocket.close(checker.result(), "access to this camera ended")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.remove(viewer)
        await asyncio.gather(audit, return_exceptions=True)
        receiver.cancel()
        checker.cancel()
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _recheck(ctx: ApiContext, token: str | None, camera_id: str, principal: Principal) -> int:
    """Returns the close code once the caller may no longer watch."""
    changed = asyncio.Event()

    def on_change(change: AccessChange) -> None:
        if change.concerns(principal.user_id, principal.session):
            changed.set()

    stop_listening = ctx.signal.subscribe(on_change)
    try:
        while True:
            await pause(ctx.clock, RECHECK_S, changed)
            changed.clear()
            allowed = await _allowed(ctx, token, camera_id)
            if isinstance(allowed, int):
                return allowed
    finally:
        stop_listening()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
