"""Cameras: list, details, status, snapshot. (Create, update and delete come next.)"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.schemas import CameraOut, CameraStatus
from recorder.api.security import Caller, Ctx, camera_right, camera_visible, client_of
from recorder.capture.health import CameraHealth, CameraState
from recorder.config import CameraConfig
from recorder.errors import NotFound
from recorder.media.snapshot import snapshot_from_keyframe, snapshot_from_segment

router = APIRouter(prefix="/cameras", tags=["cameras"])
FIRST_KEYFRAME_WAIT_STEPS = 20  # x 0.1 s
LiveRight = Annotated[Principal, Depends(camera_right(Right.LIVE))]
AnyRight = Annotated[Principal, Depends(camera_visible())]


def status_of(health: CameraHealth) -> CameraStatus:
    return CameraStatus(
        state=health.state.value,
        reason=health.reason,
        since_ms=health.since_ms,
        last_packet_ms=health.last_packet_ms,
        bitrate_bps=health.bitrate_bps,
        fps=health.fps,
        width=health.width,
        height=health.height,
        video_codec=health.video_codec,
        has_audio=health.has_audio,
        segments_written=health.segments_written,
        reconnects=health.reconnects,
    )


def camera_out(ctx: ApiContext, camera: CameraConfig, principal: Principal) -> CameraOut:
    rights = [right for right in Right if principal.can(camera.id, right)]
    return CameraOut(
        id=camera.id,
        name=camera.name,
        enabled=camera.enabled,
        record_mode=camera.record_mode.value,
        main_url=camera.main_url,
        sub_url=camera.sub_url,
        rights=rights,
        status=status_of(ctx.health.get(camera.id)),
    )


def visible(principal: Principal, camera_id: str) -> bool:
    return any(principal.can(camera_id, right) for right in Right)


@router.get("", response_model=list[CameraOut])
async def list_cameras(principal: Caller, ctx: Ctx) -> list[CameraOut]:
    """The cameras the caller has any right on, with their live status."""
    return [
        camera_out(ctx, camera, principal)
        for camera in ctx.config.cameras
        if visible(principal, camera.id)
    ]


@router.get("/{camera_id}", response_model=CameraOut)
async def get_camera(camera_id: str, principal: Caller, ctx: Ctx) -> CameraOut:
    if not visible(principal, camera_id):
        raise NotFound(f"no camera {camera_id!r}")
    return camera_out(ctx, ctx.camera(camera_id), principal)


@router.get("/{camera_id}/status", response_model=CameraStatus)
async def camera_status(camera_id: str, principal: AnyRight, ctx: Ctx) -> CameraStatus:
    return status_of(ctx.health.get(camera_id))


@router.get(
    "/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def snapshot(
    camera_id: str,
    principal: LiveRight,
    request: Request,
    ctx: Ctx,
    width: int | None = Query(default=None, ge=16, le=7680),
) -> Response:
    """A JPEG of the camera's newest keyframe (live if connected, else the last recorded)."""
    keyframe = ctx.latest_keyframe(camera_id)
    # Just connected: the first keyframe is at most one GOP away, worth a short wait.
    for _ in range(FIRST_KEYFRAME_WAIT_STEPS):
        if keyframe is not None or ctx.health.get(camera_id).state is not CameraState.ONLINE:
            break
        await asyncio.sleep(0.1)
        keyframe = ctx.latest_keyframe(camera_id)
    if keyframe is not None:
        jpeg = await asyncio.to_thread(snapshot_from_keyframe, keyframe, width)
        taken_ms = keyframe.wall_ms
    else:
        segment = await ctx.index.latest_segment(camera_id)
        if segment is None:
            raise NotFound(f"camera {camera_id!r} has no picture yet")
        path = ctx.layout.absolute(segment.path)
        jpeg = await asyncio.to_thread(snapshot_from_segment, path, segment, width)
        taken_ms = segment.end_ms
    await ctx.audit.record(
        "video.snapshot", principal.username, camera_id=camera_id, client=client_of(request)
    )
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Taken-At-Ms": str(taken_ms)},
    )
