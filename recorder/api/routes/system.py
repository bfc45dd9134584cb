"""Storage, dashboard summary and the audit log."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Query

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.params import parse_time, time_zone
from recorder.api.schemas import AuditOut, CameraUsageOut, Dashboard, StorageOut
from recorder.api.security import Admin, Caller, Ctx
from recorder.capture.health import CameraState
from recorder.motion.model import EventQuery

router = APIRouter(tags=["system"])
DAY_MS = 86_400_000


async def storage_summary(ctx: ApiContext, camera_ids: set[str] | None) -> StorageOut:
    usage = await ctx.index.usage()
    disk = await asyncio.to_thread(ctx.probe.capacity)
    storage = ctx.config.storage
    per_camera = []
    rate = 0.0
    for cam in usage.per_camera:
        per_day = None
        if cam.oldest_ms is not None and cam.newest_ms is not None:
            span = cam.newest_ms - cam.oldest_ms
            if span >= 60_000:  # a rate from less than a minute would be noise
                per_day = cam.bytes / span * DAY_MS
                rate += per_day
        if camera_ids is None or cam.camera_id in camera_ids:
            per_camera.append(
                CameraUsageOut(
                    camera_id=cam.camera_id,
                    bytes=cam.bytes,
                    segments=cam.segments,
                    oldest_ms=cam.oldest_ms,
                    newest_ms=cam.newest_ms,
                    bytes_per_day=per_day,
                )
            )
    # Room left before retention starts overwriting: up to high water of the tightest budget.
    room = disk.free_bytes - disk.total_bytes * (1 - storage.high_water_percent / 100)
    if storage.max_bytes:
        room = min(room, storage.max_bytes * storage.high_water_percent / 100 - usage.total_bytes)
    return StorageOut(
        recordings_bytes=usage.total_bytes,
        filesystem_total_bytes=disk.total_bytes,
        filesystem_free_bytes=disk.free_bytes,
        used_percent=ctx.storage.used_percent,
        alarm_level=ctx.storage.alarm_level,
        recording_paused=not ctx.storage.writable,
        high_water_percent=storage.high_water_percent,
        low_water_percent=storage.low_water_percent,
        max_bytes=int(storage.max_bytes) if storage.max_bytes else None,
        days_left=max(room, 0) / rate if rate > 0 else None,
        per_camera=per_camera,
    )


@router.get("/storage", response_model=StorageOut)
async def storage(principal: Caller, ctx: Ctx) -> StorageOut:
    """Usage, alarms and the days left at the current rate (per camera: only the caller's)."""
    return await storage_summary(ctx, principal.cameras_with())


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(
    principal: Caller,
    ctx: Ctx,
    tz: str = Query(default="UTC", max_length=64, description="IANA time zone of 'today'"),
) -> Dashboard:
    """Cameras, how many are online, events since midnight in `tz`, storage."""
    mine = principal.cameras_with()
    zone = time_zone(tz)
    now = datetime.fromtimestamp(ctx.clock.now(), zone)
    midnight_ms = round(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    cameras = [c for c in ctx.cameras.all() if mine is None or c.id in mine]
    online = sum(1 for c in cameras if ctx.health.get(c.id).state is CameraState.ONLINE)
    return Dashboard(
        cameras=len(cameras),
        online=online,
        events_today=await _events_since(ctx, principal, midnight_ms),
        storage=await storage_summary(ctx, mine),
    )


async def _events_since(ctx: ApiContext, principal: Principal, start_ms: int) -> int | None:
    if ctx.motion is None:
        return None
    allowed = principal.cameras_with(Right.PLAYBACK)
    query = EventQuery(
        camera_ids=None if allowed is None else frozenset(allowed),
        start_ms=start_ms,
        end_ms=start_ms + DAY_MS + 3_600_000,  # a day with a DST change lasts 25 h
    )
    return await ctx.motion.events.count(query)


@router.get("/audit", response_model=list[AuditOut])
async def audit(
    admin: Admin,
    ctx: Ctx,
    actor: str | None = Query(default=None, max_length=64),
    action: str | None = Query(default=None, max_length=64, description="prefix, e.g. video."),
    camera_id: str | None = Query(default=None, max_length=64),
    since: str | None = Query(default=None, max_length=40),
    until: str | None = Query(default=None, max_length=40),
    before_id: int | None = Query(default=None, ge=1, le=2**62),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[AuditOut]:
    """Newest first; page with `before_id` (the smallest id of the previous page)."""
    entries = await ctx.audit.query(
        actor=actor,
        action=action,
        camera_id=camera_id,
        since_ms=parse_time("since", since) if since else None,
        until_ms=parse_time("until", until) if until else None,
        before_id=before_id,
        limit=limit,
    )
    return [AuditOut(**entry.__dict__) for entry in entries]
