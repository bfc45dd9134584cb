"""Recordings of one camera: timeline, calendar, HLS playback over any range, seek, files."""

from __future__ import annotations

import asyncio
import tempfile
from bisect import bisect_left
from datetime import date, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.params import parse_range, parse_time, time_zone
from recorder.api.schemas import Bucket, Calendar, EventMarker, SeekResult, Span, Timeline
from recorder.api.security import Ctx, camera_right, client_of
from recorder.errors import InvalidRequest, NotFound
from recorder.media.download import download_copy
from recorder.media.hls import vod_playlist
from recorder.motion.model import EventQuery
from recorder.storage.index import gaps

router = APIRouter(prefix="/cameras/{camera_id}", tags=["recordings"])
Playback = Annotated[Principal, Depends(camera_right(Right.PLAYBACK))]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
RESOLUTION_MS = {"minute": 60_000, "hour": HOUR_MS, "day": DAY_MS}
MAX_TIMELINE_MS = 31 * DAY_MS
MAX_BUCKETS = 11_000  # a week of minutes
MAX_PLAYLIST_MS = DAY_MS
MAX_TIMELINE_EVENTS = 2000
MAX_DENSITY_EVENTS = 50_000  # a busy camera's month; beyond, the strip undercounts
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 1, 1)  # as parse_time's MIN_MS, MAX_MS


def _auto_resolution(span_ms: int) -> str:
    for name in ("minute", "hour"):
        if span_ms // RESOLUTION_MS[name] <= 1500:
            return name
    return "day"


@router.get("/timeline", response_model=Timeline)
async def timeline(
    camera_id: str,
    principal: Playback,
    ctx: Ctx,
    start: str = Query(max_length=40, description="ms since 1970 or ISO 8601"),
    end: str = Query(max_length=40),
    resolution: Literal["minute", "hour", "day", "auto"] = "auto",
) -> Timeline:
    """Recorded runs, gaps, recorded time per minute, hour or day of [start, end), and the
    motion events in it."""
    start_ms, end_ms = parse_range(start, end, MAX_TIMELINE_MS, "a timeline")
    name = _auto_resolution(end_ms - start_ms) if resolution == "auto" else resolution
    step = RESOLUTION_MS[name]
    if (end_ms - start_ms) // step > MAX_BUCKETS:
        raise InvalidRequest(f"too many {name}s: use a coarser resolution or a shorter range")
    runs = await ctx.index.runs(camera_id, start_ms, end_ms)
    events = await ctx.events_between({camera_id}, start_ms, end_ms, MAX_TIMELINE_EVENTS)
    recorded = _Coverage([(r.start_ms, r.end_ms) for r in runs])
    motion = _Coverage(await _motion_spans(ctx, camera_id, start_ms, end_ms))
    buckets = []
    for lo in range(start_ms, end_ms, step):
        hi = min(lo + step, end_ms)
        buckets.append(
            Bucket(
                start_ms=lo,
                end_ms=hi,
                recorded_ms=recorded.covered(lo, hi),
                motion_ms=motion.covered(lo, hi),
                events=motion.starting(lo, hi),
            )
        )
    return Timeline(
        camera_id=camera_id,
        start_ms=start_ms,
        end_ms=end_ms,
        resolution=name,
        runs=[Span(start_ms=r.start_ms, end_ms=r.end_ms) for r in runs],
        gaps=[Span(start_ms=a, end_ms=b) for a, b in gaps(runs, start_ms, end_ms)],
        buckets=buckets,
        events=[
            EventMarker(
                id=e.id,
                start_ms=e.start_ms,
                end_ms=e.end_ms,
                score=e.score,
                has_thumbnail=e.thumbnail is not None,
                kind=e.kind,
                label=e.label,
            )
            for e in reversed(events)
        ],
        events_truncated=len(events) >= MAX_TIMELINE_EVENTS,
    )


async def _motion_spans(
    ctx: ApiContext, camera_id: str, start_ms: int, end_ms: int
) -> list[tuple[int, int]]:
    if ctx.motion is None:
        return []
    query = EventQuery(camera_ids=frozenset({camera_id}), start_ms=start_ms, end_ms=end_ms)
    return await ctx.motion.events.spans(query, MAX_DENSITY_EVENTS)


class _Coverage:
    """How much of a bucket spans cover, and how many start in it; spans sorted by start (they
    may overlap). Each bucket looks only at spans that can reach it (bisect on the start,
    less the longest span), so a week of minutes over thousands of events stays cheap."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self._spans = spans
        self._starts = [a for a, _ in spans]
        self._longest = max((b - a for a, b in spans), default=0)

    def covered(self, lo: int, hi: int) -> int:
        covered, reach = 0, lo
        for a, b in self._spans[bisect_left(self._starts, lo - self._longest) :]:
            if a >= hi:
                break
            a, b = max(a, reach), min(b, hi)
            if b > a:
                covered += b - a
                reach = b
        return covered

    def starting(self, lo: int, hi: int) -> int:
        return bisect_left(self._starts, hi) - bisect_left(self._starts, lo)


@router.get("/calendar", response_model=Calendar)
async def calendar(
    camera_id: str,
    principal: Playback,
    ctx: Ctx,
    start: date = Query(description="first day, YYYY-MM-DD"),
    end: date = Query(description="last day, YYYY-MM-DD (at most 366 days later)"),
    tz: str = Query(default="UTC", max_length=64, description="IANA time zone of the days"),
) -> Calendar:
    """The days (in `tz`) that hold recordings."""
    zone = time_zone(tz)
    if start < FIRST_DAY or end > LAST_DAY:
        # Days like 9999-12-31 overflow once turned into times (and no recording is there).
        raise InvalidRequest("start, end: out of range (years 2000 to 2100)")
    if end < start or (end - start).days > 366:
        raise InvalidRequest("end must be on or after start, at most 366 days later")
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]

    def midnight(day: date) -> int:
        return round(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)

    bounds = [(midnight(day), midnight(day + timedelta(days=1))) for day in days]
    present = await ctx.index.days_with_segments(camera_id, bounds)
    return Calendar(
        camera_id=camera_id,
        tz=tz,
        days=[day.isoformat() for day, has in zip(days, present, strict=True) if has],
    )


@router.get(
    "/playback.m3u8",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}},
)
async def playback(
    camera_id: str,
    principal: Playback,
    request: Request,
    ctx: Ctx,
    start: str = Query(max_length=40),
    end: str = Query(max_length=40),
) -> Response:
    """An HLS VOD playlist of every recording in [start, end) (at most 24 h), gaps marked as
    discontinuities, each segment stamped with its wall-clock time."""
    start_ms, end_ms = parse_range(start, end, MAX_PLAYLIST_MS, "a playlist")
    return await playlist_response(ctx, principal, request, camera_id, start_ms, end_ms)


async def playlist_response(
    ctx: ApiContext,
    principal: Principal,
    request: Request,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    segment_prefix: str = "segments/",
) -> Response:
    """The VOD playlist of [start_ms, end_ms); segment URIs are relative (`segment_prefix`), so
    it works the same on the LAN and through the relay. Audited as playback."""
    segments = await ctx.index.segments_between(camera_id, start_ms, end_ms)
    if not segments:
        raise NotFound("no recordings in that range")
    token = request.query_params.get("token")
    suffix = f"?token={quote(token)}" if token else ""
    uris = {s.id: f"{segment_prefix}{s.id}.mp4{suffix}" for s in segments}
    await ctx.audit.record(
        "video.playback",
        principal.username,
        camera_id=camera_id,
        client=client_of(request),
        start_ms=start_ms,
        end_ms=end_ms,
    )
    return Response(
        vod_playlist(segments, uris),
        media_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/segments/{segment_id}.mp4",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}},
)
async def segment_file(
    camera_id: str,
    principal: Playback,
    request: Request,
    ctx: Ctx,
    segment_id: int = Path(ge=1, le=2**62),
    download: bool = Query(
        default=False, description="a standalone MP4 that starts at 0, to save (no Range)"
    ),
) -> Response:
    """One segment file (fMP4), with HTTP Range support. The path comes from the index. Its
    timestamps continue its run's, for players; `download` gives a copy that starts at 0."""
    segment = await ctx.index.get_segment(segment_id)
    if segment is None or segment.camera_id != camera_id:
        raise NotFound(f"no segment {segment_id} for camera {camera_id!r}")
    path = ctx.layout.absolute(segment.path)
    if not path.is_file():
        raise NotFound(f"segment {segment_id} was deleted by retention")
    if not download:
        return FileResponse(
            path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=86400"}
        )
    with tempfile.TemporaryDirectory(prefix="skycam-download-") as folder:
        copy = FsPath(folder) / "segment.mp4"
        await asyncio.to_thread(download_copy, path, copy)
        body = await asyncio.to_thread(copy.read_bytes)
    await ctx.audit.record(
        "video.segment_download",
        principal.username,
        camera_id=camera_id,
        client=client_of(request),
        start_ms=segment.start_ms,
        end_ms=segment.end_ms,
    )
    name = f"{camera_id}-{segment.start_ms}.mp4"
    return Response(
        body,
        media_type="video/mp4",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/seek", response_model=SeekResult)
async def seek(
    camera_id: str,
    principal: Playback,
    ctx: Ctx,
    t: str = Query(max_length=40, description="the instant to show"),
    playlist_start: str | None = Query(default=None, max_length=40),
) -> SeekResult:
    """Where instant `t` is: its segment, the offset in it, and the keyframe to start decoding
    from; with `playlist_start`, also the offset in the playlist that starts there."""
    t_ms = parse_time("t", t)
    segment = await ctx.index.segment_at(camera_id, t_ms)
    if segment is None:
        raise NotFound("nothing recorded at that instant")
    offset = t_ms - segment.start_ms
    keyframe = None
    for candidate in segment.keyframes:
        if candidate.offset_ms > offset:
            break
        keyframe = candidate
    key_offset = keyframe.offset_ms if keyframe else 0
    key_byte = keyframe.byte_offset if keyframe else segment.init_bytes
    playlist_offset = None
    if playlist_start is not None:
        first_ms = parse_time("playlist_start", playlist_start)
        earlier = await ctx.index.segments_between(camera_id, first_ms, segment.start_ms)
        playlist_offset = sum(s.duration_ms for s in earlier if s.id != segment.id) + offset
    return SeekResult(
        camera_id=camera_id,
        t_ms=t_ms,
        segment_id=segment.id,
        segment_start_ms=segment.start_ms,
        segment_end_ms=segment.end_ms,
        offset_ms=offset,
        keyframe_offset_ms=key_offset,
        keyframe_byte_offset=key_byte,
        playlist_offset_ms=playlist_offset,
    )
