"""/api/v1/remote: remote media (recorder/remote/), for devices calling through the relay's
sealed channel only (a LAN caller gets 409: a media key must never travel outside the channel).

Every call is an ordinary authenticated API call: the user's right on the camera (live,
playback, export) is checked when a session starts, at every lease renewal, and at once when
the recorder's access signal says the user's rights or login changed (`watch_access`).
docs/ref/remote-media.md describes the protocol; docs/ref/api.md lists the routes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from recorder.accounts.model import Principal, Right
from recorder.accounts.revocation import AccessChange
from recorder.api.context import ApiContext
from recorder.api.params import parse_range
from recorder.api.routes.events import event_out
from recorder.api.routes.live_ws import feeds_of
from recorder.api.security import Caller, Ctx, authenticate
from recorder.errors import Conflict, Forbidden, NotFound, RequestError, Unavailable
from recorder.motion.model import MAX_PAGE, EventQuery
from recorder.remote.errors import RemoteMediaError, RightsRefused
from recorder.remote.live import LiveUpload
from recorder.remote.parts import PLAYLIST
from recorder.remote.playback import PlaybackUpload
from recorder.remote.sealed_uploads import SessionUploads
from recorder.remote.service import RemoteMediaService
from recorder.remote.sessions import MediaSession

router = APIRouter(prefix="/remote", tags=["remote"])
MAX_PLAYBACK_MS = 24 * 3_600_000
CLIP_NAME = "clip.mp4"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LiveIn(_Body):
    camera_id: str = Field(min_length=1, max_length=64)
    stream: Literal["main", "sub"] = "sub"


class PlaybackIn(_Body):
    camera_id: str = Field(min_length=1, max_length=64)
    start: str = Field(max_length=40, description="ms since 1970 or ISO 8601")
    end: str = Field(max_length=40)


class LeaseIn(_Body):
    position_s: float | None = Field(default=None, ge=0, description="playback: the playhead")


def _remote(ctx: ApiContext) -> RemoteMediaService:
    remote: RemoteMediaService | None = getattr(ctx, "remote", None)
    if remote is None:
        raise Unavailable("remote media needs a relay ([relay] url)")
    return remote


def _owner(remote: RemoteMediaService, principal: Principal) -> Any:
    session = remote.tunnel_session_of(principal)
    if session is None:
        raise Conflict("remote media is only for devices connected through the relay")
    return session


def _refused(exc: RemoteMediaError) -> Exception:
    if isinstance(exc, RightsRefused) and exc.code in ("no_grant", "revoked", "forbidden"):
        return Forbidden(f"the relay refused: {exc}")
    if isinstance(exc, RightsRefused) and exc.code == "busy":
        return Conflict(str(exc))
    return Unavailable(f"remote media unavailable: {exc}")


async def _open(
    remote: RemoteMediaService, principal: Principal, kind: str, camera_id: str, right: Right
) -> MediaSession:
    owner = _owner(remote, principal)
    try:
        session = await remote.sessions.open(kind, owner.account, owner.sid, principal.user_id)
    except RemoteMediaError as exc:
        raise _refused(exc) from exc
    session.camera_id, session.right = camera_id, right.value
    return session


def _require(ctx: ApiContext, principal: Principal, camera_id: str, right: Right) -> None:
    if not principal.can(camera_id, right):
        raise Forbidden(f"no {right.value} right on this camera")
    ctx.camera(camera_id)  # NotFound


@router.post("/live", status_code=201)
async def remote_live(
    body: LiveIn, principal: Caller, request: Request, ctx: Ctx
) -> dict[str, Any]:
    """Start uploading the camera's live view (substream by default) as sealed ~1 s parts."""
    remote = _remote(ctx)
    _require(ctx, principal, body.camera_id, Right.LIVE)
    camera = ctx.camera(body.camera_id)
    owner = _owner(remote, principal)

    def work(uploads: SessionUploads) -> LiveUpload:
        return LiveUpload(
            uploads, feeds_of(request), body.camera_id, body.stream,
            camera.stream_url(body.stream), ctx.clock, ctx.config.relay.media_part_s,
        )  # fmt: skip

    try:
        # Devices of one account watching this stream share one upload (remote/sessions.py).
        session = await remote.sessions.join_live(
            owner.account, owner.sid, principal.user_id, body.camera_id, body.stream, work
        )
    except RemoteMediaError as exc:
        raise _refused(exc) from exc
    session.right = Right.LIVE.value
    await ctx.audit.record(
        "video.live", principal.username, camera_id=body.camera_id, client="tunnel"
    )
    return {**remote.sessions.answer(session), "playlist": PLAYLIST, "stream": body.stream}


@router.post("/playback", status_code=201)
async def remote_playback(body: PlaybackIn, principal: Caller, ctx: Ctx) -> dict[str, Any]:
    """Upload a recorded range (at most 24 h) as a sealed VOD, ahead of the playhead."""
    remote = _remote(ctx)
    _require(ctx, principal, body.camera_id, Right.PLAYBACK)
    start_ms, end_ms = parse_range(body.start, body.end, MAX_PLAYBACK_MS, "a playback")
    segments = await ctx.index.segments_between(body.camera_id, start_ms, end_ms)
    if not segments:
        raise NotFound("no recordings in that range")
    session = await _open(remote, principal, "playback", body.camera_id, Right.PLAYBACK)
    work = PlaybackUpload(session.uploads, ctx.layout, segments, ctx.config.relay.media_ahead_s)
    try:
        await work.prepare()
    except RemoteMediaError as exc:
        await remote.sessions.stop(session.msid, session.owner)
        raise _refused(exc) from exc
    remote.sessions.start(session, work, work.run)
    await ctx.audit.record(
        "video.playback", principal.username, camera_id=body.camera_id, client="tunnel",
        start_ms=start_ms, end_ms=end_ms,
    )  # fmt: skip
    return {
        **remote.sessions.answer(session),
        "playlist": PLAYLIST,
        "duration_s": work.duration_s,
        "start_ms": segments[0].start_ms,
    }


@router.post("/clips/{clip_id}", status_code=201)
async def remote_clip(
    principal: Caller, ctx: Ctx, clip_id: int = Path(ge=1, le=2**62)
) -> dict[str, Any]:
    """Upload a finished clip as one sealed object."""
    remote = _remote(ctx)
    try:
        clip = await ctx.clips.get(clip_id)
    except NotFound:
        clip = None
    if clip is None or not principal.can(clip.camera_id, Right.EXPORT):
        raise NotFound(f"no clip {clip_id}")
    if clip.status != "ready":
        raise Conflict(f"clip {clip_id} is {clip.status}, not ready")
    data = await asyncio.to_thread(ctx.clips.path(clip).read_bytes)
    session = await _open(remote, principal, "clip", clip.camera_id, Right.EXPORT)
    try:
        await session.uploads.put(CLIP_NAME, data)
    except RemoteMediaError as exc:
        await remote.sessions.stop(session.msid, session.owner)
        raise _refused(exc) from exc
    remote.sessions.start(session, None, _held)
    await ctx.audit.record(
        "video.clip_download", principal.username, camera_id=clip.camera_id, client="tunnel"
    )
    return {**remote.sessions.answer(session), "name": CLIP_NAME, "bytes": len(data)}


async def _held() -> None:
    """A clip's session has nothing more to upload: it lives until its lease lapses."""


@router.post("/media/{msid}/lease")
async def renew_lease(
    msid: str, principal: Caller, ctx: Ctx, body: LeaseIn | None = None
) -> dict[str, Any]:
    """Keep a media session going (every `lease_s / 2`); playback: where the playhead is."""
    remote = _remote(ctx)
    owner = _owner(remote, principal)
    session = remote.sessions.lease(msid, owner.sid)
    if session is None:
        raise NotFound("no such media session (ended)")
    if not principal.can(session.camera_id, Right(session.right)):
        await remote.sessions.stop(msid, owner.sid, reason="access withdrawn")
        raise Forbidden(f"no {session.right} right on this camera any more")
    if (
        body is not None
        and body.position_s is not None
        and isinstance(session.work, PlaybackUpload)
    ):
        session.work.seek(body.position_s)
    return {"lease_s": remote.sessions.lease_s, "uploaded": sorted(session.uploads.uploaded)}


@router.delete("/media/{msid}", status_code=204)
async def stop_media(msid: str, principal: Caller, ctx: Ctx) -> Response:
    remote = _remote(ctx)
    owner = _owner(remote, principal)
    if not await remote.sessions.stop(msid, owner.sid):
        raise NotFound("no such media session")
    return Response(status_code=204)


@router.get("/events")
async def remote_events(
    principal: Caller,
    ctx: Ctx,
    camera: list[str] | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(default=None, max_length=40),
) -> dict[str, Any]:
    """Events the caller may play back, newest first, each with what the device needs to
    fetch and open its sealed thumbnail: `thumbnail: {key, k}` (uploaded before answering)."""
    remote = _remote(ctx)
    _owner(remote, principal)
    if remote.thumbnails is None:
        raise Unavailable("motion detection is not running")
    allowed = principal.cameras_with(Right.PLAYBACK)
    wanted = set(camera) if camera else allowed
    if camera and allowed is not None and not set(camera) <= allowed:
        raise Forbidden("no playback right on some of these cameras")
    page = await ctx.events().events.query(
        EventQuery(
            camera_ids=None if wanted is None else frozenset(wanted), limit=limit, cursor=cursor
        )
    )
    try:
        await remote.thumbnails.ensure(page.events)
    except RemoteMediaError as exc:
        raise _refused(exc) from exc
    events = [
        {**event_out(e).model_dump(), "thumbnail": remote.thumbnails.reference(e)}
        for e in page.events
    ]
    return {"events": events, "next_cursor": page.next_cursor}


def watch_access(ctx: ApiContext, remote: RemoteMediaService) -> None:
    """Re-check a media session's user at once when the access signal says its rights, user or
    login changed: a withdrawn right ends the session now, not at its next lease renewal."""
    checks: set[asyncio.Task[None]] = set()

    def changed(change: AccessChange) -> None:
        for session in list(remote.sessions.sessions.values()):
            login = remote.owner_login(session)
            if login is None or change.concerns(session.user_id, login.session_id):
                task = asyncio.create_task(_recheck(ctx, remote, session))
                checks.add(task)
                task.add_done_callback(checks.discard)

    ctx.signal.subscribe(changed)


async def _recheck(ctx: ApiContext, remote: RemoteMediaService, session: MediaSession) -> None:
    login = remote.owner_login(session)
    allowed = False
    if login is not None:
        try:
            principal = await authenticate(ctx, login.access_token)
        except RequestError:
            principal = None
        allowed = principal is not None and principal.can(session.camera_id, Right(session.right))
    if not allowed:
        await remote.sessions.stop(session.msid, session.owner, reason="access withdrawn")
