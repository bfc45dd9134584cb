"""Signed webhooks from other devices, and the integrations (admins only) that may send them.

`POST /hooks/{integration}` is the one endpoint besides login without a bearer token: the
device proves itself with an HMAC-SHA256 signature over a timestamp and the body
(recorder/integrations/signature.py). An unknown integration, a bad, stale or replayed
signature all get 401 and an audit entry; an unknown integration answers exactly like a bad
signature, so names cannot be probed. A signed event becomes an event like a motion event.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError

from recorder.api.context import ApiContext
from recorder.api.routes.events import event_out
from recorder.api.schemas import (
    EventOut,
    HookEvent,
    IntegrationCreated,
    IntegrationOut,
    NewIntegration,
)
from recorder.api.security import Admin, Ctx, client_of
from recorder.errors import Forbidden, InvalidRequest, NotAuthenticated, PayloadTooLarge
from recorder.integrations.picture import thumbnail_from
from recorder.integrations.signature import TOLERANCE_S, verify
from recorder.integrations.store import NAME_RE, Integration
from recorder.motion.writer import ExternalReport

router = APIRouter(tags=["integrations"])
MAX_BODY = 1_500_000  # a base64 JPEG of about 1 MB and the fields
LATE_MS = 3_600_000  # an event may be reported up to an hour after it happened


def _name() -> Any:
    return Path(min_length=1, max_length=63, pattern=NAME_RE.pattern)


def integration_out(integration: Integration) -> IntegrationOut:
    return IntegrationOut(
        name=integration.name,
        cameras=list(integration.cameras),
        created_ms=integration.created_ms,
        created_by=integration.created_by,
        url=f"hooks/{integration.name}",
    )


@router.get("/integrations", response_model=list[IntegrationOut])
async def list_integrations(admin: Admin, ctx: Ctx) -> list[IntegrationOut]:
    """Every integration, without its secret."""
    return [integration_out(i) for i in await ctx.integrations.all()]


@router.post("/integrations", response_model=IntegrationCreated, status_code=201)
async def create_integration(
    body: NewIntegration, admin: Admin, request: Request, ctx: Ctx
) -> IntegrationCreated:
    """A new integration with a generated secret, returned this once: give it to the device."""
    for camera_id in body.cameras:
        ctx.camera(camera_id)  # 404 for a camera that does not exist
    integration, secret = await ctx.integrations.create(
        body.name, tuple(sorted(set(body.cameras))), admin.username
    )
    await ctx.audit.record(
        "integration.create", admin.username, target=integration.name,
        client=client_of(request), cameras=list(integration.cameras),
    )  # fmt: skip
    return IntegrationCreated(**integration_out(integration).model_dump(), secret=secret)


@router.delete("/integrations/{name}", status_code=204)
async def delete_integration(admin: Admin, request: Request, ctx: Ctx, name: str = _name()) -> None:
    """Forget an integration: its signatures stop working at once."""
    await ctx.integrations.delete(name)
    await ctx.audit.record(
        "integration.delete", admin.username, target=name, client=client_of(request)
    )


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"body larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _authenticated(ctx: ApiContext, request: Request, name: str, body: bytes) -> Integration:
    client = client_of(request)
    # A client that keeps failing waits (429, not audited): unauthenticated requests must not
    # be able to fill the audit log. Per address only, so nobody can lock a device out.
    ctx.hook_throttle.check(f"hook:{client}", client)
    found = await ctx.integrations.with_secret(name)
    try:
        if found is None:
            raise NotAuthenticated("bad signature")
        integration, secret = found
        signed = verify(
            secret,
            request.headers.get("x-skycam-timestamp"),
            request.headers.get("x-skycam-signature"),
            body,
            ctx.clock.now(),
            integration.name,
        )
        await ctx.integrations.accept_once(signed)
    except NotAuthenticated as exc:
        ctx.hook_throttle.failed(f"hook:{client}", client)
        await ctx.audit.record(
            "hook.denied", f"integration:{name}", outcome="denied", client=client, reason=str(exc)
        )
        raise
    return integration


def _parsed(body: bytes) -> HookEvent:
    try:
        return HookEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidRequest(f"{where}: {first.get('msg', 'invalid')}") from None


@router.post(
    "/hooks/{integration}",
    response_model=EventOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": HookEvent.model_json_schema()}},
        }
    },
)
async def hook(request: Request, ctx: Ctx, integration: str = _name()) -> EventOut:
    """An event from another device, signed with its integration's secret: headers
    `X-SkyCam-Timestamp` (Unix seconds) and `X-SkyCam-Signature` (`sha256=` and the hex
    HMAC-SHA256 of `<timestamp>.<body>`)."""
    body = await _body(request)
    source = await _authenticated(ctx, request, integration, body)
    report = _parsed(body)
    ctx.camera(report.camera_id)  # 404 for a camera that does not exist
    if not source.may_report_on(report.camera_id):
        raise Forbidden(
            f"integration {source.name!r} may not report on camera {report.camera_id!r}"
        )
    now_ms = ctx.now_ms()
    at_ms = now_ms if report.at_ms is None else report.at_ms
    if not now_ms - LATE_MS <= at_ms <= now_ms + TOLERANCE_S * 1000:
        raise InvalidRequest("at_ms: more than an hour ago, or in the future")
    thumbnail = None
    if report.jpeg is not None:
        try:
            picture = base64.b64decode(report.jpeg, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("jpeg: not base64") from None
        max_bytes = ctx.config.events.thumbnail_max_bytes
        thumbnail = await asyncio.to_thread(thumbnail_from, picture, max_bytes)
    event = await ctx.events().add_external(
        ExternalReport(
            report.camera_id, report.kind, report.label, report.confidence, at_ms, thumbnail
        )
    )
    await ctx.audit.record(
        "hook.event", f"integration:{source.name}", camera_id=event.camera_id,
        target=str(event.id), client=client_of(request), kind=event.kind,
        label=event.label,
    )  # fmt: skip
    return event_out(event)
