"""Pan, tilt, zoom and presets of a camera through ONVIF (the PTZ right on the camera).

Each request opens a short ONVIF session with the camera. A move carries a timeout after which
the camera stops by itself, so a client that disappears mid-move cannot leave it turning.
Camera failures answer 502 (`camera_unreachable`, `camera_auth`) or 409 (`camera_unsupported`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from recorder.accounts.model import Principal, Right
from recorder.api.schemas import PresetOut, PtzMove
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
