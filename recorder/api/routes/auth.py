"""Login (the one endpoint without authentication), token refresh, logout, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request

from recorder.accounts.model import User
from recorder.api.schemas import LoginRequest, RefreshRequest, TokenResponse, UserOut
from recorder.api.security import Caller, Ctx, client_of
from recorder.errors import NotAuthenticated

router = APIRouter(prefix="/auth", tags=["auth"])


def user_out(user: User) -> UserOut:
    rights = {cam: sorted(r) for cam, r in user.rights.items() if r}
    return UserOut(
        id=user.id, username=user.username, role=user.role, disabled=user.disabled, rights=rights
    )


@router.post("/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> TokenResponse:
    client = client_of(request)
    ctx.throttle.check(body.username, client)
    user = await ctx.accounts.authenticate(body.username, body.password)
    if user is None:
        ctx.throttle.failed(body.username, client)
        await ctx.audit.record("auth.login", body.username, outcome="denied", client=client)
        raise NotAuthenticated("wrong user name or password")
    ctx.throttle.succeeded(body.username)
    pair = await ctx.tokens.start_session(user.id, request.headers.get("user-agent", ""))
    await ctx.audit.record("auth.login", user.username, client=client, session=pair.session_id)
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=user_out(user),
    )


@router.post("/refresh", response_model=TokenResponse)
async def refresh(body: RefreshRequest, ctx: Ctx) -> TokenResponse:
    """Trade a refresh token for a new pair. Refresh tokens are single-use: presenting one
    twice ends the session."""
    user_id, pair = await ctx.tokens.refresh(body.refresh_token)
    user = await ctx.accounts.get(user_id)
    if user.disabled:
        await ctx.tokens.end_session(pair.session_id)
        raise NotAuthenticated("account disabled")
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=user_out(user),
    )


@router.post("/logout", status_code=204)
async def logout(principal: Caller, request: Request, ctx: Ctx) -> None:
    """End the caller's session: its access and refresh tokens stop working at once."""
    await ctx.tokens.end_session(principal.session)
    await ctx.audit.record("auth.logout", principal.username, client=client_of(request))


@router.get("/me", response_model=UserOut)
async def me(principal: Caller, ctx: Ctx) -> UserOut:
    return user_out(await ctx.accounts.get(principal.user_id))
