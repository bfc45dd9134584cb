"""Pan, tilt, zoom, click-to-centre and presets of a camera through ONVIF (the PTZ right on
the camera).

Each request opens a short ONVIF session with the camera. A move carries a timeout after which
the camera stops by itself, so a client that disappears mid-move cannot leave it turning.
Camera failures answer 502 (`camera_unreachable`, `camera_auth`) or 409 (`camera_unsupported`:
no PTZ, no such preset; `camera_refused`: a preset name it has, no room for another).
Everything that moves the camera or changes its presets is audited as `camera.ptz`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from recorder.accounts.model import Principal, Right
from recorder.api.schemas import (
    CentringOut,
    NewPreset,
    PresetOut,
    PtzCentre,
    PtzMove,
    PtzStatusOut,
)
from recorder.api.security import Ctx, camera_right, client_of
from recorder.onvif.config import endpoint_for
from recorder.onvif.ptz import ptz_session

router = APIRouter(prefix="/cameras/{camera_id}/ptz", tags=["ptz"])
Ptz = Annotated[Principal, Depends(camera_right(Right.PTZ))]
PresetToken = Path(min_length=1, max_length=64)


@router.post("/move", status_code=204)
async def move(camera_id: str, body: PtzMove, principal: Ptz, request: Request, ctx: Ctx) -> None:
    """Move at the given speeds until `stop` or for `timeout_s`."""
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        await ptz.move(body.pan, body.tilt, body.zoom, body.timeout_s)
    await ctx.audit.record(
        "camera.ptz", principal.username, camera_id=camera_id, client=client_of(request),
        pan=body.pan, tilt=body.tilt, zoom=body.zoom,
    )  # fmt: skip


@router.post("/stop", status_code=204)
async def stop(camera_id: str, principal: Ptz, ctx: Ctx) -> None:
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        await ptz.stop()


@router.get("/presets", response_model=list[PresetOut])
async def presets(camera_id: str, principal: Ptz, ctx: Ctx) -> list[PresetOut]:
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        return [PresetOut(token=p.token, name=p.name) for p in await ptz.presets()]


@router.post("/presets/{token}/goto", status_code=204)
async def goto_preset(
    camera_id: str, principal: Ptz, request: Request, ctx: Ctx, token: str = PresetToken
) -> None:
    """Go to a preset (409 if the camera has no preset with that token)."""
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        await ptz.goto(token)
    await ctx.audit.record(
        "camera.ptz", principal.username, camera_id=camera_id, client=client_of(request),
        preset=token,
    )  # fmt: skip


@router.get("/status", response_model=PtzStatusOut)
async def status(camera_id: str, principal: Ptz, ctx: Ctx) -> PtzStatusOut:
    """Where the head is (ONVIF generic spaces: pan, tilt -1..1, zoom 0..1) and whether it moves."""
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        found = await ptz.status()
    return PtzStatusOut(pan=found.pan, tilt=found.tilt, zoom=found.zoom, moving=found.moving)


@router.post("/centre", response_model=CentringOut)
async def centre(
    camera_id: str, body: PtzCentre, principal: Ptz, request: Request, ctx: Ctx
) -> CentringOut:
    """Turn so that the picture's point (`x`, `y`) becomes its centre: a relative move through
    the camera's field of view (`[cameras.onvif]`), or a short move toward it."""
    camera = ctx.camera(camera_id)
    async with ptz_session(endpoint_for(camera), ctx.onvif_device) as ptz:
        done = await ptz.centre(body.x, body.y, body.aspect, camera.onvif.view())
    await ctx.audit.record(
        "camera.ptz", principal.username, camera_id=camera_id, client=client_of(request),
        centre=f"{body.x:.3f},{body.y:.3f}", method=done.method,
    )  # fmt: skip
    return CentringOut(method=done.method, pan=done.pan, tilt=done.tilt)


@router.post("/presets", response_model=PresetOut, status_code=201)
async def save_preset(
    camera_id: str, body: NewPreset, principal: Ptz, request: Request, ctx: Ctx
) -> PresetOut:
    """Save the current position as a new preset (409 `camera_refused` if the name exists or
    the camera has no room for another)."""
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        saved = await ptz.save_preset(body.name.strip())
    await ctx.audit.record(
        "camera.ptz", principal.username, camera_id=camera_id, client=client_of(request),
        preset_saved=saved.token, name=saved.name,
    )  # fmt: skip
    return PresetOut(token=saved.token, name=saved.name)


@router.delete("/presets/{token}", status_code=204)
async def remove_preset(
    camera_id: str, principal: Ptz, request: Request, ctx: Ctx, token: str = PresetToken
) -> None:
    """Delete a preset (409 `camera_unsupported` if the camera has none with that token)."""
    async with ptz_session(endpoint_for(ctx.camera(camera_id)), ctx.onvif_device) as ptz:
        removed = await ptz.remove_preset(token)
    await ctx.audit.record(
        "camera.ptz", principal.username, camera_id=camera_id, client=client_of(request),
        preset_removed=token, name=removed.name,
    )  # fmt: skip
