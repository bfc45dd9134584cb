"""Timeline previews: a small JPEG of the recording near any instant (the playback right).

Scrubbing asks many times a second, so answers come from an LRU of decoded keyframes
(`recorder/media/preview.py`) and are not audited one by one (the playback they lead to is).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.params import parse_time
from recorder.api.security import Ctx, camera_right
from recorder.errors import NotFound
from recorder.media.preview import Preview, decode_preview, nearest_keyframe
from recorder.storage.model import Segment

router = APIRouter(prefix="/cameras/{camera_id}", tags=["recordings"])
Playback = Annotated[Principal, Depends(camera_right(Right.PLAYBACK))]
# Hovering just past the end of a run (or the segment still being written) shows the nearest
# recorded picture if it is this close; farther is a gap, and a gap has no picture.
NEAR_MS = 15_000


async def _segment_near(ctx: ApiContext, camera_id: str, t_ms: int) -> Segment:
    covering = ctx.previews.segment_at(camera_id, t_ms) or await ctx.index.segment_at(
        camera_id, t_ms
    )
    if covering is not None:
        ctx.previews.used(covering)
        return covering
    around = await ctx.index.segments_between(camera_id, t_ms - NEAR_MS, t_ms + NEAR_MS)
    if not around:
        raise NotFound(f"nothing recorded within {NEAR_MS // 1000} s of that instant")
    return min(around, key=lambda s: min(abs(s.start_ms - t_ms), abs(s.end_ms - t_ms)))


@router.get(
    "/preview.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def preview(
    camera_id: str,
    principal: Playback,
    ctx: Ctx,
    t: str = Query(max_length=40, description="the instant, ms since 1970 or ISO 8601"),
    w: int = Query(default=160, ge=32, le=640, description="width in pixels at most"),
) -> Response:
    """The recorded keyframe nearest `t` (within its segment, or the nearest segment up to
    15 s away), `w` pixels wide; `X-Taken-At-Ms` says when it was taken. 404 in a gap."""
    timing = _Timing()
    t_ms = parse_time("t", t)
    segment = await _segment_near(ctx, camera_id, t_ms)
    index, offset_ms, _ = nearest_keyframe(segment, t_ms)
    path = ctx.layout.absolute(segment.path)
    timing.lap("locate")

    async def make() -> Preview:
        jpeg = await asyncio.to_thread(timing.in_thread, decode_preview, path, segment, index, w)
        timing.lap("resume")
        return Preview(jpeg, segment.start_ms + offset_ms)

    # Checked on cache hits too: what retention deleted is not shown from memory either.
    if not path.is_file():
        raise NotFound("that recording was deleted by retention")
    shown = await ctx.previews.get_or_make((segment.id, index, w), make)
    return Response(
        shown.jpeg,
        media_type="image/jpeg",
        # The same URL always gives the same picture (until retention deletes it).
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Taken-At-Ms": str(shown.taken_ms),
            "Server-Timing": timing.header(),
        },
    )


class _Timing:
    """Where a preview's time went, as a `Server-Timing` header (ms): `locate` (the segment
    and keyframe), `queue` (waiting for a worker thread), `decode` (read, decode, shrink and
    JPEG, in the thread; `cpu`: the thread's CPU time in it), `resume` (back onto the event
    loop), `handler` (all of it). The browser's Resource Timing shows it beside the request's
    own timings, so bench/web.py can tell the recorder's work from waiting on a loaded
    machine (wall time well over `cpu`). A cache hit has no decode."""

    def __init__(self) -> None:
        self._start = self._last = time.perf_counter()
        self._phases: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self._phases[name] = now - self._last
        self._last = now

    def in_thread(self, work: Callable[..., bytes], *args: object) -> bytes:
        self.lap("queue")
        cpu = time.thread_time()
        try:
            return work(*args)
        finally:
            self.lap("decode")
            self._phases["cpu"] = time.thread_time() - cpu

    def header(self) -> str:
        phases = self._phases | {"handler": time.perf_counter() - self._start}
        return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in phases.items())
