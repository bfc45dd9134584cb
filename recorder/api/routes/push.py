"""Web Push on the LAN: the VAPID public key, and each user's own subscriptions.

A browser subscribes with `PushManager.subscribe({applicationServerKey})` and posts the
resulting PushSubscription JSON here, with the cameras it wants (default: every camera the
user may see) and optional quiet hours. Posting the same endpoint again updates it. Users see
and delete only their own subscriptions; the outbox status is for admins.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from recorder.accounts.model import Right
from recorder.api.context import ApiContext
from recorder.api.security import Admin, Caller, Ctx, client_of
from recorder.errors import Forbidden, NotFound, Unavailable
from recorder.push.endpoint import check_endpoint
from recorder.push.errors import BadSubscription
from recorder.push.quiet import QuietHours
from recorder.push.service import PushService
from recorder.push.store import NewSubscription, Subscription

router = APIRouter(tags=["push"])
Key = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+=*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscriptionKeys(_Model):
    p256dh: Key
    auth: Key


class QuietHoursIn(_Model):
    start: str = Field(max_length=5, description="HH:MM, local time")
    end: str = Field(max_length=5, description="HH:MM; before start: runs over midnight")
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA zone (Europe/Paris) or offset (+02:00)"
    )


class SubscriptionIn(_Model):
    model_config = ConfigDict(extra="ignore")  # browsers add expirationTime and may add more
    endpoint: str = Field(min_length=8, max_length=2048)
    keys: SubscriptionKeys
    device: str = Field(default="", max_length=80)
    cameras: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=100, description="null: every camera the user may see"
    )
    quiet_hours: QuietHoursIn | None = None


class SubscriptionOut(BaseModel):
    id: int
    endpoint: str
    device: str
    cameras: list[str] | None
    quiet_hours: QuietHoursIn | None
    created_ms: int
    last_ok_ms: int | None
    device_id: int | None = Field(
        default=None, description="made through the tunnel by this enrolled device (ends with it)"
    )


class PublicKeyOut(BaseModel):
    public_key: str = Field(description="VAPID key for PushManager.subscribe (base64url)")


def _push(ctx: ApiContext) -> PushService:
    if ctx.push is None:
        raise Unavailable("push notifications are not enabled")
    return ctx.push


def _decoded(field: str, value: str, size: int) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadSubscription(f"keys.{field}: not base64url") from None
    if len(raw) != size or (field == "p256dh" and raw[0] != 4):
        raise BadSubscription(f"keys.{field}: expected {size} bytes")


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.hostname}"


def _out(subscription: Subscription) -> SubscriptionOut:
    quiet = subscription.quiet
    return SubscriptionOut(
        id=subscription.id,
        endpoint=subscription.endpoint,
        device=subscription.device,
        cameras=None if subscription.cameras is None else sorted(subscription.cameras),
        quiet_hours=None if quiet is None else QuietHoursIn(**vars(quiet)),
        created_ms=subscription.created_ms,
        last_ok_ms=subscription.last_ok_ms,
        device_id=subscription.device_id,
    )


@router.get("/push/public-key", response_model=PublicKeyOut)
async def public_key(_principal: Caller, ctx: Ctx) -> PublicKeyOut:
    """The recorder's VAPID key, or the relay's when the recorder has a relay (it delivers)."""
    key = _push(ctx).public_key
    if not key:
        raise Unavailable("the relay has not been reached yet: its push key is not known")
    return PublicKeyOut(public_key=key)


@router.post("/push/subscriptions", response_model=SubscriptionOut, status_code=201)
async def subscribe(
    body: SubscriptionIn, principal: Caller, request: Request, ctx: Ctx
) -> SubscriptionOut:
    """Register (or update, same endpoint) this browser's PushSubscription for the caller,
    for as long as the caller's login lasts (logging out ends it); made through the tunnel,
    for as long as the caller's enrolled device is (revoking the device ends it)."""
    push = _push(ctx)
    check_endpoint(body.endpoint, allow_loopback=push.config.allow_loopback)
    _decoded("p256dh", body.keys.p256dh, 65)
    _decoded("auth", body.keys.auth, 16)
    cameras = None
    if body.cameras is not None:
        cameras = frozenset(body.cameras)
        refused = sorted(c for c in cameras if not principal.can(c, Right.PLAYBACK))
        if refused:
            raise Forbidden(f"no playback right on camera(s) {', '.join(refused)}")
        for camera_id in cameras:
            ctx.camera(camera_id)  # 404 for a camera that does not exist
    quiet = None
    if body.quiet_hours is not None:
        quiet = QuietHours(**body.quiet_hours.model_dump())
    new = NewSubscription(
        body.endpoint, body.keys.p256dh, body.keys.auth, body.device, cameras, quiet
    )
    server_key = push.public_key
    if not server_key:
        raise Unavailable("the relay has not been reached yet: its push key is not known")
    device_id = None
    if ctx.tunnel is not None and principal.session:
        # A tunnel session's login ends with the session (every time the app closes): a
        # remote subscription belongs to the enrolled device instead.
        device_id = ctx.tunnel.device_of_login(principal.session)
    made = await push.store.subscribe(
        principal.user_id, new, None if device_id is not None else principal.session or None,
        device_id=device_id, server_key=server_key,
    )  # fmt: skip
    # The endpoint's path is a capability (whoever has it can push to the browser): only its
    # origin goes to the audit log.
    await ctx.audit.record(
        "push.subscribe", principal.username, target=str(made.id),
        client=client_of(request), service=_origin(body.endpoint),
    )  # fmt: skip
    return _out(made)


@router.get("/push/subscriptions", response_model=list[SubscriptionOut])
async def my_subscriptions(principal: Caller, ctx: Ctx) -> list[SubscriptionOut]:
    """The caller's own subscriptions."""
    return [_out(s) for s in await _push(ctx).store.of_user(principal.user_id)]


@router.delete("/push/subscriptions/{subscription_id}", status_code=204)
async def unsubscribe(
    principal: Caller, request: Request, ctx: Ctx, subscription_id: int = Path(ge=1, le=2**62)
) -> None:
    """Delete one of the caller's subscriptions (someone else's is a 404, like a missing one)."""
    if not await _push(ctx).store.delete(subscription_id, principal.user_id):
        raise NotFound(f"no push subscription {subscription_id}")
    await ctx.audit.record(
        "push.unsubscribe", principal.username, target=str(subscription_id),
        client=client_of(request),
    )  # fmt: skip


@router.get("/push/status")
async def status(_admin: Admin, ctx: Ctx) -> dict[str, Any]:
    """Counters since start (notified, gone, queued, dropped, cooldown, quiet, ...) and the
    number of notifications waiting in the on-disk outbox."""
    return await _push(ctx).status()
