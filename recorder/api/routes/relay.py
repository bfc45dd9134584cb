"""Remote access through the relay (admins only): status, invitations, enrolled devices.

An invitation's link carries its one-time secret in the URL fragment: it is returned once, by
the POST that creates it, and never again (listings show ids and states only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from recorder.api.security import Admin, Ctx, client_of
from recorder.errors import NotFound, Unavailable
from recorder.tunnel.devices import Device
from recorder.tunnel.invitations import Invitation
from recorder.tunnel.service import TunnelService

router = APIRouter(prefix="/relay", tags=["relay"])
DeviceId = Path(ge=1, le=2**62)
InvitationId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class NewInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    """The recorder user the invited device will act as (its per-camera rights apply)."""


class InvitationOut(BaseModel):
    id: str
    username: str
    created_by: str
    created_ms: int
    expires_ms: int
    state: str  # pending | used | expired | revoked
    registered: bool  # the relay knows its id
    link: str | None = None  # only in the answer that creates it


class DeviceOut(BaseModel):
    id: int
    username: str
    account: str
    public_key: str
    created_ms: int
    last_seen_ms: int | None
    revoked_ms: int | None


def _tunnel(ctx: Ctx) -> TunnelService:
    tunnel: TunnelService | None = ctx.tunnel
    if tunnel is None:
        raise Unavailable("the tunnel is not running")
    return tunnel


def _invitation(invitation: Invitation, now_ms: int, link: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        username=invitation.username,
        created_by=invitation.created_by,
        created_ms=invitation.created_ms,
        expires_ms=invitation.expires_ms,
        state=invitation.state(now_ms),
        registered=invitation.registered,
        link=link,
    )


def _device(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        username=device.username,
        account=device.account,
        public_key=device.public_key,
        created_ms=device.created_ms,
        last_seen_ms=device.last_seen_ms,
        revoked_ms=device.revoked_ms,
    )


@router.get("")
async def relay_status(admin: Admin, ctx: Ctx) -> dict[str, Any]:
    return _tunnel(ctx).status()


@router.post("/invitations", response_model=InvitationOut, status_code=201)
async def create_invitation(
    body: NewInvitation, admin: Admin, request: Request, ctx: Ctx
) -> InvitationOut:
    user = await ctx.accounts.find(body.username)
    if user is None:
        raise NotFound(f"no user {body.username!r}")
    invitation, link = await _tunnel(ctx).create_invitation(user.id, admin.username)
    await ctx.audit.record(
        "relay.invite", admin.username, target=user.username, client=client_of(request)
    )
    return _invitation(invitation, ctx.now_ms(), link)


@router.get("/invitations", response_model=list[InvitationOut])
async def list_invitations(admin: Admin, ctx: Ctx) -> list[InvitationOut]:
    return [_invitation(i, ctx.now_ms()) for i in await _tunnel(ctx).invitations.all()]


@router.delete("/invitations/{invitation_id}", response_model=InvitationOut)
async def revoke_invitation(
    admin: Admin, request: Request, ctx: Ctx, invitation_id: str = InvitationId
) -> InvitationOut:
    invitation = await _tunnel(ctx).revoke_invitation(invitation_id)
    await ctx.audit.record(
        "relay.invite.revoke", admin.username, target=invitation.id, client=client_of(request)
    )
    return _invitation(invitation, ctx.now_ms())


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(admin: Admin, ctx: Ctx) -> list[DeviceOut]:
    return [_device(d) for d in await _tunnel(ctx).devices.all()]


@router.delete("/devices/{device_id}", response_model=DeviceOut)
async def revoke_device(
    admin: Admin, request: Request, ctx: Ctx, device_id: int = DeviceId
) -> DeviceOut:
    device = await _tunnel(ctx).revoke_device(device_id)
    await ctx.audit.record(
        "relay.device.revoke", admin.username, target=str(device.id), client=client_of(request)
    )
    return _device(device)
