"""Live view: HLS (fMP4, 1 s segments) per camera, started by the first viewer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.security import Ctx, camera_right, client_of
from recorder.capture.health import CameraState
from recorder.errors import NotFound
from recorder.media.live import LiveStream

router = APIRouter(prefix="/cameras/{camera_id}", tags=["live"])
Live = Annotated[Principal, Depends(camera_right(Right.LIVE))]
FIRST_SEGMENT_WAIT_S = 3.0
AUDIT_EVERY_MS = 60_000  # one audit entry per viewer and camera per minute of watching
_audited: dict[tuple[int, str], int] = {}


def _stream(ctx: ApiContext, camera_id: str) -> LiveStream:
    live = ctx.live(camera_id)
    if live is None:
        raise NotFound(f"camera {camera_id!r} is not recording, so it has no live view")
    return live


@router.get(
    "/live.m3u8",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}},
)
async def live_playlist(camera_id: str, principal: Live, request: Request, ctx: Ctx) -> Response:
    """The live playlist; the first request starts the stream. Poll it about once a second."""
    live = _stream(ctx, camera_id)
    live.start()
    waited = 0.0
    while not live.has_segments() and waited < FIRST_SEGMENT_WAIT_S:
        if ctx.health.get(camera_id).state not in (CameraState.ONLINE, CameraState.PAUSED):
            break
        await ctx.clock.sleep(0.05)
        waited += 0.05
    if not live.has_segments():
        state = ctx.health.get(camera_id)
        raise NotFound(f"no live video: camera is {state.state.value} {state.reason}".strip())
    key, now = (principal.user_id, camera_id), ctx.now_ms()
    if now - _audited.get(key, 0) > AUDIT_EVERY_MS:
        _audited[key] = now
        await ctx.audit.record(
            "video.live", principal.username, camera_id=camera_id, client=client_of(request)
        )
    token = request.query_params.get("token")
    suffix = f"?token={quote(token)}" if token else ""
    return Response(
        live.playlist(suffix),
        media_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/live/init-{init_id}.mp4",
    response_class=Response,
    responses={200: {"content": {"video/mp4": {}}}},
)
async def live_init(
    camera_id: str, principal: Live, ctx: Ctx, init_id: int = Path(ge=0, le=2**31)
) -> Response:
    data = _stream(ctx, camera_id).init(init_id)
    if data is None:
        raise NotFound("that initialization section has expired: reload the playlist")
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "max-age=60"})


@router.get(
    "/live/{sequence}.m4s",
    response_class=Response,
    responses={200: {"content": {"video/iso.segment": {}}}},
)
async def live_segment(
    camera_id: str, principal: Live, ctx: Ctx, sequence: int = Path(ge=0, le=2**62)
) -> Response:
    data = _stream(ctx, camera_id).segment(sequence)
    if data is None:
        raise NotFound("that segment has expired or does not exist yet: reload the playlist")
    return Response(data, media_type="video/iso.segment", headers={"Cache-Control": "max-age=60"})
