"""Onboarding (admin only): find ONVIF cameras on the LAN, describe one, add it in one step;
RTSP URLs for cameras without ONVIF.

Addresses come from the admin, so they are checked against `[onboarding].networks`: the
recorder looks only where cameras live (private and link-local networks by default) and cannot
be used to call arbitrary hosts. Probes take IP addresses, never names to resolve.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request

from recorder.api.context import ApiContext
from recorder.api.routes.cameras import add_camera, camera_out, validated
from recorder.api.schemas import (
    CameraOut,
    DeviceOut,
    DiscoveredOut,
    DiscoverRequest,
    DiscoveryOut,
    OnvifCameraIn,
    ProbeRequest,
    StreamUrlsOut,
)
from recorder.api.security import Admin, Ctx
from recorder.errors import Conflict, Forbidden, InvalidRequest
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.discovery import MULTICAST, discover
from recorder.onvif.probe import DeviceDescription, probe_device
from recorder.onvif.rtsp_urls import Vendor, rtsp_urls

router = APIRouter(prefix="/onboarding", tags=["onboarding"])
WS_DISCOVERY_PORT = 3702


def _allowed_host(ctx: ApiContext, host: str, what: str) -> str:
    host = host.strip().strip("[]")
    if not ctx.config.onboarding.allows(host):
        raise Forbidden(
            f"{what}: {host!r} is not an IP address in the networks of [onboarding] "
            "(cameras are looked for on the local network only)"
        )
    return host


def _target(ctx: ApiContext, text: str) -> tuple[str, int]:
    host, port = text, WS_DISCOVERY_PORT
    if text.count(":") == 1 or text.startswith("["):  # IPv4:port or [IPv6]:port
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidRequest(f"targets: bad port in {text!r}")
        port = int(port_text)
    return _allowed_host(ctx, host, "targets"), port


@router.post("/discover", response_model=DiscoveryOut)
async def discover_cameras(body: DiscoverRequest, admin: Admin, ctx: Ctx) -> DiscoveryOut:
    """WS-Discovery: who answers a probe within `timeout_s` (the LAN's multicast group, or the
    given addresses). Answers name the device service; probe one to describe it."""
    targets = [_target(ctx, text) for text in body.targets]
    if not targets:
        if not ctx.config.onboarding.multicast:
            raise InvalidRequest("multicast discovery is off in [onboarding]: give targets")
        targets = [MULTICAST]
    found = await discover(body.timeout_s, targets=targets, clock=ctx.clock)
    # A configured camera streams from that host or has its ONVIF service there.
    known = {urlsplit(c.main_url).hostname for c in ctx.cameras.all()}
    known |= {c.onvif.host for c in ctx.cameras.all() if c.onvif.host}
    return DiscoveryOut(
        devices=[
            DiscoveredOut.model_validate({**d.to_public(), "known": d.host in known}) for d in found
        ]
    )


async def _probe(ctx: ApiContext, body: ProbeRequest) -> DeviceDescription:
    host = _allowed_host(ctx, body.host, "host")
    endpoint = OnvifEndpoint(host, body.port, body.username, body.password, timeout_s=10)
    return await probe_device(endpoint, ctx.onvif_device)


@router.post("/probe", response_model=DeviceOut)
async def probe(body: ProbeRequest, admin: Admin, ctx: Ctx) -> DeviceOut:
    """Describe an ONVIF camera: maker, model, serial, media profiles, the main and sub stream
    URLs it offers (without credentials), PTZ and events. Nothing is saved."""
    return DeviceOut.model_validate((await _probe(ctx, body)).to_public())


@router.post("/cameras", response_model=CameraOut, status_code=201)
async def add_onvif_camera(
    body: OnvifCameraIn, admin: Admin, request: Request, ctx: Ctx
) -> CameraOut:
    """Probe an ONVIF camera and add it in one step: its streams, its credentials, ONVIF events
    as a motion source where it offers them, and where its ONVIF service is (for PTZ)."""
    if any(c.id == body.id for c in ctx.cameras.all()):
        raise Conflict(f"camera {body.id!r} exists")
    device = await _probe(ctx, body)
    settings: dict[str, Any] = device.camera_settings(
        body.id, name=body.name or None, username=body.username, password=body.password
    )
    settings["record_mode"] = body.record_mode
    settings.setdefault("onvif", {"host": device.host, "port": device.port})
    camera = validated(settings)
    await add_camera(ctx, admin, request, camera, test=body.test)
    return camera_out(ctx, camera, admin)


@router.get("/rtsp-urls", response_model=StreamUrlsOut)
async def stream_urls(
    admin: Admin,
    vendor: Vendor,
    host: str = Query(min_length=1, max_length=253),
    port: int = Query(default=554, ge=1, le=65535),
    channel: int = Query(default=1, ge=1, le=256),
    path: str | None = Query(default=None, max_length=500, description="generic: main path"),
    sub_path: str | None = Query(default=None, max_length=500),
) -> StreamUrlsOut:
    """The vendor's main and sub stream URLs for a camera without ONVIF (no credentials: give
    them apart when adding the camera). Test them with POST /cameras/test."""
    try:
        urls = rtsp_urls(vendor, host, port=port, channel=channel, path=path, sub_path=sub_path)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    return StreamUrlsOut(main_url=urls.main, sub_url=urls.sub)
