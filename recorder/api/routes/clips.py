"""Clips: export a range, follow its progress, download it (with Range), delete it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.params import parse_time
from recorder.api.schemas import ClipOut, NewClip
from recorder.api.security import Caller, Ctx, camera_right, client_of
from recorder.errors import NotFound
from recorder.media.clips import Clip

router = APIRouter(tags=["clips"])
Export = Annotated[Principal, Depends(camera_right(Right.EXPORT))]
ClipId = Path(ge=1, le=2**62)


def clip_out(clip: Clip) -> ClipOut:
    return ClipOut(**asdict(clip))


async def _clip_for(ctx: ApiContext, principal: Principal, clip_id: int) -> Clip:
    clip = await ctx.clips.get(clip_id)  # NotFound if missing
    # Another camera's clip gets the same answer as a missing one (ids are sequential).
    if not principal.can(clip.camera_id, Right.EXPORT):
        raise NotFound(f"no clip {clip_id}")
    return clip


@router.post("/cameras/{camera_id}/clips", response_model=ClipOut, status_code=202)
async def create_clip(
    camera_id: str, body: NewClip, principal: Export, request: Request, ctx: Ctx
) -> ClipOut:
    """Start exporting [start, end) (at most one hour); poll `GET /clips/{id}` for progress."""
    start_ms, end_ms = parse_time("start", body.start), parse_time("end", body.end)
    clip = await ctx.clips.create(
        camera_id, start_ms, end_ms, exact=body.exact, name=body.name, by=principal.username
    )
    await ctx.audit.record(
        "video.clip_create", principal.username, camera_id=camera_id, target=str(clip.id),
        client=client_of(request), start_ms=start_ms, end_ms=end_ms,
    )  # fmt: skip
    return clip_out(clip)


@router.get("/clips", response_model=list[ClipOut])
async def list_clips(principal: Caller, ctx: Ctx) -> list[ClipOut]:
    """Clips of the cameras the caller may export from, newest first."""
    return [clip_out(c) for c in await ctx.clips.list(principal.cameras_with(Right.EXPORT))]


@router.get("/clips/{clip_id}", response_model=ClipOut)
async def get_clip(principal: Caller, ctx: Ctx, clip_id: int = ClipId) -> ClipOut:
    return clip_out(await _clip_for(ctx, principal, clip_id))


@router.get(
    "/clips/{clip_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}},
)
async def download_clip(
    principal: Caller, request: Request, ctx: Ctx, clip_id: int = ClipId
) -> FileResponse:
    clip = await _clip_for(ctx, principal, clip_id)
    if clip.status != "ready":
        raise NotFound(f"clip {clip.id} is {clip.status}, not ready")
    if request.headers.get("range", "bytes=0-").startswith("bytes=0-"):
        # One entry per download, not per range request of a seeking player.
        await ctx.audit.record(
            "video.clip_download", principal.username, camera_id=clip.camera_id,
            target=str(clip.id), client=client_of(request),
        )  # fmt: skip
    return FileResponse(
        ctx.clips.path(clip),
        media_type="video/mp4",
        filename=f"{clip.camera_id}-{clip.start_ms}.mp4",
    )


@router.delete("/clips/{clip_id}", status_code=204)
async def delete_clip(principal: Caller, request: Request, ctx: Ctx, clip_id: int = ClipId) -> None:
    clip = await _clip_for(ctx, principal, clip_id)
    await ctx.clips.delete(clip)
    await ctx.audit.record(
        "video.clip_delete", principal.username, camera_id=clip.camera_id,
        target=str(clip.id), client=client_of(request),
    )  # fmt: skip
