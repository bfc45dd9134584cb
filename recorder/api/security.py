"""Authentication and per-camera authorisation for every endpoint but login.

A request authenticates with `Authorization: Bearer <access token>`. GET requests may instead
pass `?token=<access token>`: video elements, HLS players without custom headers and download
links cannot set headers. Access logs are off, so tokens in URLs are not written anywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.errors import Forbidden, NotAuthenticated, NotFound


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method in ("GET", "HEAD"):
        return request.query_params.get("token") or None
    return None


async def authenticate(ctx: ApiContext, token: str | None) -> Principal:
    """The caller of `token`: checked on every call; what the site database says about its
    session and user is shared for a moment (api/session_cache.py)."""
    if not token:
        raise NotAuthenticated("missing access token (Authorization: Bearer ...)")
    claims = ctx.tokens.read_access(token)

    async def read() -> Principal:
        checked = await ctx.tokens.verify_access(token)
        try:
            user = await ctx.accounts.get(checked.user_id)
        except NotFound:
            raise NotAuthenticated("unknown user") from None
        if user.disabled:
            raise NotAuthenticated("account disabled")
        return Principal(user.id, user.username, user.role, user.rights, checked.session_id)

    return await ctx.sessions.principal((claims.user_id, claims.session_id), read)


async def current_principal(request: Request) -> Principal:
    principal = await authenticate(context(request), token_of(request))
    request.state.principal = principal
    return principal


Ctx = Annotated[ApiContext, Depends(context)]
Caller = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: Caller) -> Principal:
    if not principal.is_admin:
        raise Forbidden("admin only")
    return principal


Admin = Annotated[Principal, Depends(require_admin)]


def camera_right(right: Right) -> Callable[[str, Request], Awaitable[Principal]]:
    """A dependency: the caller must hold `right` on the path's camera (and it must exist)."""

    async def check(camera_id: str, request: Request) -> Principal:
        principal = await current_principal(request)
        ctx = context(request)
        if not principal.can(camera_id, right):
            # Same answer whether or not the camera exists: ids are not disclosed.
            raise Forbidden(f"no {right.value} right on camera {camera_id!r}")
        ctx.camera(camera_id)
        return principal

    return check


def camera_visible() -> Callable[[str, Request], Awaitable[Principal]]:
    """A dependency: the caller must hold some right on the path's camera."""

    async def check(camera_id: str, request: Request) -> Principal:
        principal = await current_principal(request)
        if not any(principal.can(camera_id, right) for right in Right):
            raise Forbidden(f"no right on camera {camera_id!r}")
        context(request).camera(camera_id)
        return principal

    return check
