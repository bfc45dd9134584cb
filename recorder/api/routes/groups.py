"""The caller's saved camera groups (the live wall's mosaics), stored on the recorder per user."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from recorder.accounts.camera_groups import CameraGroupStore
from recorder.accounts.model import Principal
from recorder.api.context import ApiContext
from recorder.api.routes.cameras import visible
from recorder.api.security import Caller, Ctx
from recorder.errors import InvalidRequest, Unavailable

router = APIRouter(prefix="/me", tags=["groups"])
MAX_GROUPS = 50


class CameraGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    layout: Literal[1, 4, 9, 16] = 4
    cameras: list[str] = Field(min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def _store(ctx: ApiContext) -> CameraGroupStore:
    if ctx.groups is None:
        raise Unavailable("camera groups are not available")
    return ctx.groups


def _shown(ctx: ApiContext, principal: Principal, groups: list[CameraGroup]) -> list[CameraGroup]:
    """Groups as the caller may see them now: cameras removed or whose rights were withdrawn
    drop out."""
    known = {c.id for c in ctx.cameras.all()}
    out = []
    for group in groups:
        cameras = [c for c in group.cameras if c in known and visible(principal, c)]
        if cameras:
            out.append(group.model_copy(update={"cameras": cameras}))
    return out


@router.get("/groups", response_model=list[CameraGroup])
async def get_groups(principal: Caller, ctx: Ctx) -> list[CameraGroup]:
    stored = await _store(ctx).get(principal.user_id)
    return _shown(ctx, principal, [CameraGroup.model_validate(g) for g in stored])


@router.put("/groups", response_model=list[CameraGroup])
async def put_groups(body: list[CameraGroup], principal: Caller, ctx: Ctx) -> list[CameraGroup]:
    """Replace the caller's groups (at most 50, unique names, cameras the caller may see)."""
    if len(body) > MAX_GROUPS:
        raise InvalidRequest(f"at most {MAX_GROUPS} groups")
    names = [g.name.casefold() for g in body]
    if len(set(names)) != len(names):
        raise InvalidRequest("group names must be unique")
    known = {c.id for c in ctx.cameras.all()}
    for group in body:
        hidden = [c for c in group.cameras if c not in known or not visible(principal, c)]
        if hidden:
            raise InvalidRequest(f"group {group.name!r}: unknown camera {hidden[0]!r}")
    await _store(ctx).put(principal.user_id, [g.model_dump() for g in body])
    return body
