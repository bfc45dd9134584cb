"""Cameras: list, details, status, snapshot; create (after a stream test), change, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.schemas import (
    CameraIn,
    CameraOut,
    CameraPatch,
    CameraStatus,
    StreamInfoOut,
    StreamTest,
)
from recorder.api.security import Admin, Caller, Ctx, camera_right, camera_visible, client_of
from recorder.capture.health import CameraHealth, CameraState
from recorder.config import CameraConfig, camera_to_dict, parse_camera, strip_credentials
from recorder.errors import ConfigError, Forbidden, InvalidRequest, NotFound, StreamError
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
        retention_days=camera.retention_days,
        motion=camera.motion.model_dump(mode="json"),
        onvif=camera.onvif.model_dump(mode="json"),
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
        for camera in ctx.cameras.all()
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
        await ctx.clock.sleep(0.1)
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


async def _test_stream(ctx: ApiContext, camera: CameraConfig) -> StreamInfoOut:
    """Open the camera's main stream and describe it; 400 with the reason if it does not play."""

    def probe() -> StreamInfoOut:
        stream = ctx.opener.open(camera.stream_url("main"))
        try:
            info = stream.info
        finally:
            stream.close()
        return StreamInfoOut(
            video_codec=info.video_codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            audio_codec=info.audio_codec,
        )

    try:
        return await asyncio.to_thread(probe)
    except StreamError as exc:
        raise InvalidRequest(f"connection test failed: {exc}") from exc


def validated(raw: dict[str, Any]) -> CameraConfig:
    try:
        return parse_camera(raw)
    except ConfigError as exc:
        raise InvalidRequest(str(exc)) from None


@router.post("/test", response_model=StreamInfoOut)
async def test_stream(body: StreamTest, admin: Admin, ctx: Ctx) -> StreamInfoOut:
    """Try a stream URL and credentials without saving anything (onboarding). Like the ONVIF
    probes, it reaches only IP addresses in `[onboarding] networks`: its answers tell a closed
    port from an RTSP or HTTP one, so anywhere else it would be a port scanner."""
    camera = validated({"id": "probe", **body.model_dump(exclude_none=True)})
    host = urlsplit(camera.main_url).hostname or ""
    if not ctx.config.onboarding.allows(host):
        raise Forbidden(
            f"main_url: {host!r} is not an IP address in the networks of [onboarding] "
            "(streams are tested on the local network only)"
        )
    return await _test_stream(ctx, camera)


@router.post("", response_model=CameraOut, status_code=201)
async def create_camera(body: CameraIn, admin: Admin, request: Request, ctx: Ctx) -> CameraOut:
    """Add a camera; it starts recording at once. Its stream is tested first unless `test` is
    false (to add a camera that is offline now)."""
    camera = validated(body.model_dump(exclude_none=True, exclude={"test"}))
    await add_camera(ctx, admin, request, camera, test=body.test)
    return camera_out(ctx, camera, admin)


async def add_camera(
    ctx: ApiContext, admin: Principal, request: Request, camera: CameraConfig, *, test: bool
) -> None:
    """Test the stream (unless `test` is false), save the camera (it starts at once), audit."""
    if test:
        await _test_stream(ctx, camera)
    await ctx.cameras.create(camera)
    await ctx.audit.record(
        "camera.create", admin.username, camera_id=camera.id, client=client_of(request),
        main_url=camera.main_url,
    )  # fmt: skip


@router.patch("/{camera_id}", response_model=CameraOut)
async def change_camera(
    camera_id: str, body: CameraPatch, admin: Admin, request: Request, ctx: Ctx
) -> CameraOut:
    """Change a camera; its worker restarts with the new settings, the others are untouched."""
    current = ctx.camera(camera_id)
    changes = body.model_dump(exclude_unset=True, exclude={"test"})
    merged = {**camera_to_dict(current), **changes}
    if "main_url" in changes and "username" not in changes and "password" not in changes:
        # Credentials stay unless the new URL carries its own.
        merged.setdefault("username", current.username)
    camera = validated({k: v for k, v in merged.items() if v is not None})
    stream_changed = any(k in changes for k in ("main_url", "username", "password"))
    if body.test and stream_changed and camera.enabled:
        await _test_stream(ctx, camera)
    await ctx.cameras.replace(camera)
    # The audit shows what changed, never a secret: passwords, and URLs without their userinfo.
    shown = {k: v for k, v in changes.items() if k != "password"}
    for key in ("main_url", "sub_url"):
        if isinstance(shown.get(key), str):
            shown[key] = strip_credentials(shown[key])
    if "password" in changes:
        shown["password"] = "changed"
    await ctx.audit.record(
        "camera.change", admin.username, camera_id=camera_id, client=client_of(request), **shown
    )
    return camera_out(ctx, camera, admin)


@router.delete("/{camera_id}", status_code=204)
async def delete_camera(camera_id: str, admin: Admin, request: Request, ctx: Ctx) -> None:
    """Stop and forget a camera. Its recordings stay until retention removes them."""
    await ctx.cameras.delete(camera_id)
    await ctx.accounts.forget_camera(camera_id)
    await ctx.audit.record(
        "camera.delete", admin.username, camera_id=camera_id, client=client_of(request)
    )
