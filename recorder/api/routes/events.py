"""Motion events: list and filter, one event, its thumbnail, its recording as HLS, a clip of it.

Events are part of a camera's recordings: seeing them takes the playback right on the camera
(a clip of one takes the export right). Real-time notices go out on /ws (see app.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from recorder.accounts.model import Principal, Right
from recorder.api.context import ApiContext
from recorder.api.params import parse_time
from recorder.api.routes.clips import clip_out
from recorder.api.routes.recordings import playlist_response
from recorder.api.schemas import BoxOut, ClipOut, EventOut, EventPageOut
from recorder.api.security import Caller, Ctx, camera_right, client_of
from recorder.errors import EventQueryError, Forbidden, InvalidRequest, NotFound
from recorder.motion.model import DEFAULT_PAGE, MAX_PAGE, EventQuery, EventSource, MotionEvent

router = APIRouter(tags=["events"])
Playback = Annotated[Principal, Depends(camera_right(Right.PLAYBACK))]
EventId = Path(ge=1, le=2**62)
SourceName = Literal["software", "onvif", "both", "external"]
MAX_CAMERAS = 100


def event_out(event: MotionEvent) -> EventOut:
    box = event.box
    return EventOut(
        id=event.id,
        camera_id=event.camera_id,
        source=event.source.value,
        kind=event.kind,
        label=event.label,
        start_ms=event.start_ms,
        end_ms=event.end_ms,
        score=event.score,
        zones=list(event.zones),
        box=None if box is None else BoxOut(x=box.x, y=box.y, w=box.w, h=box.h),
        has_thumbnail=event.thumbnail is not None,
        record_start_ms=event.record_start_ms,
        record_end_ms=event.record_end_ms,
    )


class EventFilters:
    """The query parameters shared by both event lists."""

    def __init__(
        self,
        start: str | None = Query(default=None, max_length=40, description="events ending after"),
        end: str | None = Query(default=None, max_length=40, description="events starting before"),
        source: list[SourceName] | None = Query(default=None, max_length=4),
        zone: str | None = Query(default=None, min_length=1, max_length=64),
        limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
        cursor: str | None = Query(default=None, max_length=40, description="next_cursor"),
    ) -> None:
        self.start, self.end, self.source = start, end, source
        self.zone, self.limit, self.cursor = zone, limit, cursor

    def query(self, camera_ids: set[str] | None) -> EventQuery:
        try:
            return EventQuery(
                camera_ids=None if camera_ids is None else frozenset(camera_ids),
                start_ms=None if self.start is None else parse_time("start", self.start),
                end_ms=None if self.end is None else parse_time("end", self.end),
                sources=None if not self.source else frozenset(EventSource(s) for s in self.source),
                zone=self.zone,
                limit=self.limit,
                cursor=self.cursor,
            )
        except EventQueryError as exc:
            raise InvalidRequest(str(exc)) from None


Filters = Annotated[EventFilters, Depends()]


async def _page(ctx: ApiContext, query: EventQuery) -> EventPageOut:
    page = await ctx.events().events.query(query)
    return EventPageOut(events=[event_out(e) for e in page.events], next_cursor=page.next_cursor)


@router.get("/events", response_model=EventPageOut)
async def list_events(
    principal: Caller,
    ctx: Ctx,
    filters: Filters,
    camera: list[str] | None = Query(default=None, max_length=MAX_CAMERAS),
) -> EventPageOut:
    """Events of the cameras the caller may play back (or of `camera`, repeatable), newest
    first, one page at a time: pass `next_cursor` back as `cursor` for the next."""
    allowed = principal.cameras_with(Right.PLAYBACK)
    wanted = set(camera) if camera else None
    if wanted is not None and allowed is not None and not wanted <= allowed:
        refused = ", ".join(sorted(wanted - allowed))
        raise Forbidden(f"no playback right on camera(s) {refused}")
    return await _page(ctx, filters.query(wanted if wanted is not None else allowed))


@router.get("/cameras/{camera_id}/events", response_model=EventPageOut)
async def camera_events(
    camera_id: str, principal: Playback, ctx: Ctx, filters: Filters
) -> EventPageOut:
    """One camera's events, newest first (same filters and paging as /events)."""
    return await _page(ctx, filters.query({camera_id}))


async def _event_for(
    ctx: ApiContext, principal: Principal, event_id: int, right: Right = Right.PLAYBACK
) -> MotionEvent:
    event = await ctx.events().events.get(event_id)
    # An event the caller may not see gets the same answer as a missing one: ids are
    # sequential, and a different answer would let anyone list which events (and cameras)
    # exist. One they may see but not, say, export from is a plain 403.
    if event is None or not principal.can(event.camera_id, Right.PLAYBACK):
        raise NotFound(f"no event {event_id}")
    if not principal.can(event.camera_id, right):
        raise Forbidden(f"no {right.value} right on camera {event.camera_id!r}")
    return event


@router.get("/events/{event_id}", response_model=EventOut)
async def get_event(principal: Caller, ctx: Ctx, event_id: int = EventId) -> EventOut:
    return event_out(await _event_for(ctx, principal, event_id))


@router.get(
    "/events/{event_id}/thumbnail.jpg",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def event_thumbnail(principal: Caller, ctx: Ctx, event_id: int = EventId) -> FileResponse:
    """The JPEG of the event's best frame (not audited: lists show dozens of them)."""
    event = await _event_for(ctx, principal, event_id)
    path = await ctx.events().thumbnail_path(event.id)
    if path is None:
        raise NotFound(f"event {event.id} has no thumbnail")
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def _record_range(ctx: ApiContext, event: MotionEvent) -> tuple[int, int]:
    """The event's recording range; an event in progress runs to now."""
    end_ms = event.record_end_ms if event.record_end_ms is not None else ctx.now_ms()
    return event.record_start_ms, max(end_ms, event.record_start_ms + 1)


@router.get(
    "/events/{event_id}/playback.m3u8",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}},
)
async def event_playback(
    principal: Caller, request: Request, ctx: Ctx, event_id: int = EventId
) -> Response:
    """An HLS VOD playlist of the event's recording range (pre-roll to post-roll)."""
    event = await _event_for(ctx, principal, event_id)
    start_ms, end_ms = _record_range(ctx, event)
    return await playlist_response(
        ctx,
        principal,
        request,
        event.camera_id,
        start_ms,
        end_ms,
        segment_prefix=f"../../cameras/{event.camera_id}/segments/",
    )


@router.post("/events/{event_id}/clip", response_model=ClipOut, status_code=202)
async def event_clip(
    principal: Caller, request: Request, ctx: Ctx, event_id: int = EventId
) -> ClipOut:
    """Export the event's recording range as a clip (kept until deleted)."""
    event = await _event_for(ctx, principal, event_id, Right.EXPORT)
    start_ms, end_ms = _record_range(ctx, event)
    clip = await ctx.clips.create(
        event.camera_id, start_ms, end_ms, exact=False, name=f"event {event.id}",
        by=principal.username,
    )  # fmt: skip
    await ctx.audit.record(
        "video.clip_create", principal.username, camera_id=event.camera_id, target=str(clip.id),
        client=client_of(request), start_ms=start_ms, end_ms=end_ms, event_id=event.id,
    )  # fmt: skip
    return clip_out(clip)
