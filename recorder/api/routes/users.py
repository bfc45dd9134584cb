"""User administration (admins only) and per-camera rights."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from recorder.api.routes.auth import user_out
from recorder.api.schemas import NewUser, RightsChange, UserChange, UserOut
from recorder.api.security import Admin, Ctx, client_of
from recorder.errors import Conflict
from recorder.storage.layout import CAMERA_ID_RE

router = APIRouter(prefix="/users", tags=["users"])
UserId = Path(ge=1, le=2**62)


@router.get("", response_model=list[UserOut])
async def list_users(admin: Admin, ctx: Ctx) -> list[UserOut]:
    return [user_out(user) for user in await ctx.accounts.all()]


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: NewUser, admin: Admin, request: Request, ctx: Ctx) -> UserOut:
    user = await ctx.accounts.create(body.username, body.password, body.role)
    await ctx.audit.record(
        "user.create",
        admin.username,
        target=user.username,
        client=client_of(request),
        role=user.role.value,
    )
    return user_out(user)


@router.get("/{user_id}", response_model=UserOut)
async def get_user(admin: Admin, ctx: Ctx, user_id: int = UserId) -> UserOut:
    return user_out(await ctx.accounts.get(user_id))


@router.patch("/{user_id}", response_model=UserOut)
async def change_user(
    body: UserChange, admin: Admin, request: Request, ctx: Ctx, user_id: int = UserId
) -> UserOut:
    if user_id == admin.user_id and (body.disabled or body.role not in (None, admin.role)):
        raise Conflict("you cannot demote or disable yourself")
    user = await ctx.accounts.update(user_id, role=body.role, disabled=body.disabled)
    if body.password is not None:
        await ctx.accounts.set_password(user_id, body.password)
    if body.disabled or body.password is not None:
        await ctx.tokens.end_sessions_of(user_id)
    changes = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        changes["password"] = "changed"
    await ctx.audit.record(
        "user.change", admin.username, target=user.username, client=client_of(request), **changes
    )
    return user_out(await ctx.accounts.get(user_id))


@router.delete("/{user_id}", status_code=204)
async def delete_user(admin: Admin, request: Request, ctx: Ctx, user_id: int = UserId) -> None:
    if user_id == admin.user_id:
        raise Conflict("you cannot delete yourself")
    user = await ctx.accounts.get(user_id)
    await ctx.accounts.delete(user_id)
    await ctx.audit.record(
        "user.delete", admin.username, target=user.username, client=client_of(request)
    )


@router.put("/{user_id}/cameras/{camera_id}", response_model=UserOut)
async def set_rights(
    body: RightsChange,
    admin: Admin,
    request: Request,
    ctx: Ctx,
    camera_id: str = Path(pattern=CAMERA_ID_RE.pattern),
    user_id: int = UserId,
) -> UserOut:
    """Set the user's rights on one camera (an empty list removes them)."""
    ctx.camera(camera_id)
    user = await ctx.accounts.set_rights(user_id, camera_id, frozenset(body.rights))
    await ctx.audit.record(
        "user.rights",
        admin.username,
        camera_id=camera_id,
        target=user.username,
        client=client_of(request),
        rights=sorted(r.value for r in body.rights),
    )
    return user_out(user)
