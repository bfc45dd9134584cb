"""The FastAPI application: routes under /api/v1, errors as JSON with a reason, real-time wiring.

Errors: every `RequestError` becomes its status with `{"error": {"code", "message"}}`; request
validation failures are 422 with the offending fields; nothing a client sends produces a 500.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from recorder.accounts.model import Principal, Right, Role
from recorder.api.context import ApiContext
from recorder.api.routes import (
    auth,
    cameras,
    clips,
    events,
    groups,
    hooks,
    live,
    live_ws,
    onboarding,
    previews,
    ptz,
    push,
    recordings,
    relay,
    remote,
    system,
    users,
    ws,
)
from recorder.api.routes.cameras import status_of, visible
from recorder.api.web import WebApp
from recorder.capture.health import CameraHealth
from recorder.errors import (
    OnvifAuthError,
    OnvifError,
    OnvifRefused,
    OnvifUnsupported,
    RequestError,
    TooManyAttempts,
)
from recorder.motion.model import EventNotice
from recorder.storage.state import StorageAlert

log = logging.getLogger(__name__)
PREFIX = "/api/v1"


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers or None
    )


WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


def create_app(ctx: ApiContext, web_dir: Path | None = WEB_DIST) -> FastAPI:
    app = FastAPI(
        title="SkyCam recorder API",
        version="1",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    for module in (
        auth, users, cameras, onboarding, live, live_ws, recordings, previews, events, clips, ptz,
        system, ws, groups, hooks, relay, push, remote,
    ):  # fmt: skip
        app.include_router(module.router, prefix=PREFIX)

    @app.exception_handler(RequestError)
    async def request_error(_request: Request, exc: RequestError) -> JSONResponse:
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after_s)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _error(exc.status, exc.code, str(exc), **headers)

    @app.exception_handler(OnvifError)
    async def camera_error(_request: Request, exc: OnvifError) -> JSONResponse:
        # The request was fine; the camera (an upstream server to us) refused or failed it.
        if isinstance(exc, OnvifAuthError):
            return _error(502, "camera_auth", str(exc))
        if isinstance(exc, OnvifUnsupported):
            return _error(409, "camera_unsupported", str(exc))
        if isinstance(exc, OnvifRefused):
            return _error(409, "camera_refused", str(exc))
        return _error(502, "camera_unreachable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for item in exc.errors()[:5]:
            loc = [str(p) for p in item.get("loc", ())]
            where = ".".join(loc[1:]) if len(loc) > 1 and loc[0] == "body" else ".".join(loc)
            parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
        return _error(422, "invalid", "; ".join(parts) or "invalid request")

    wire_realtime(ctx)
    if web_dir is not None and (web_dir / "index.html").is_file():
        # The PWA's static build at /: public, like any login page; the API stays behind auth.
        app.mount("/", WebApp(web_dir), name="web")
    return app


def wire_realtime(ctx: ApiContext) -> None:
    """Camera status changes and storage alerts go to the WebSocket clients allowed to see them."""

    def on_health(health: CameraHealth) -> None:
        message = {"type": "camera.status", "camera_id": health.camera_id}
        message.update(status_of(health).model_dump())
        ctx.hub.publish(message, lambda p: visible(p, health.camera_id))

    def on_storage(alert: StorageAlert) -> None:
        message = {"type": "storage.alert", **asdict(alert)}
        message["kind"] = alert.kind.value
        ctx.hub.publish(message, _manages)

    def on_event(notice: EventNotice) -> None:
        camera_id = notice.event.camera_id
        ctx.hub.publish(notice.to_public(), lambda p: p.can(camera_id, Right.PLAYBACK))

    ctx.health.subscribe(on_health)
    ctx.storage.add_listener(on_storage)
    if ctx.motion is not None:
        ctx.motion.bus.add_listener(on_event)


def _manages(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.OPERATOR)
