"""Plain types of events: what the store keeps, what queries ask, what the bus carries.

Times are integer milliseconds since the Unix epoch, UTC, like segments.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from recorder.errors import EventQueryError
from recorder.motion.analysis import Box

MAX_PAGE = 500
DEFAULT_PAGE = 50
# Events are split at `max_event_s` (at most an hour), so a query for [t0, t1) need only look
# at events starting after t0 minus this: the scan stays bounded by the start index.
MAX_EVENT_MS = 3_600_000 + 60_000


class EventSource(enum.StrEnum):
    SOFTWARE = "software"
    ONVIF = "onvif"
    BOTH = "both"
    EXTERNAL = "external"  # a signed webhook from another device (recorder/integrations)

    @classmethod
    def of(cls, sources: frozenset[str]) -> EventSource:
        if len(sources) > 1:
            return cls.BOTH
        return cls(next(iter(sources), cls.SOFTWARE.value))


@dataclass(frozen=True)
class MotionEvent:
    id: int
    camera_id: str
    source: EventSource
    start_ms: int
    end_ms: int | None  # None while the event is open
    score: float  # largest fraction of the frame in motion (0 for ONVIF-only events)
    zones: tuple[str, ...]
    box: Box | None  # where the best sighting moved, in fractions of the frame
    thumbnail: str | None  # relative to the data directory; see EventStore.thumbnail_path
    record_start_ms: int  # start minus pre-roll: the recording range of the event
    record_end_ms: int | None  # end plus post-roll; None while open
    updated_ms: int
    last_motion_ms: int = 0  # internal: where a crash leaves an open event's end
    protection_id: int | None = None  # internal: the index protection of its range
    kind: str = "motion"  # what happened: motion, or what an external device says (doorbell)
    label: str = ""  # what an external device read or recognised (a number plate); may be ""

    @property
    def ongoing(self) -> bool:
        return self.end_ms is None

    def to_public(self) -> dict[str, Any]:
        """JSON-ready, for the API, the real-time WebSocket and push: no file paths."""
        box = self.box
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "source": self.source.value,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "score": self.score,
            "zones": list(self.zones),
            "box": None if box is None else {"x": box.x, "y": box.y, "w": box.w, "h": box.h},
            "has_thumbnail": self.thumbnail is not None,
            "record_start_ms": self.record_start_ms,
            "record_end_ms": self.record_end_ms,
            "kind": self.kind,
            "label": self.label,
        }


class NoticeKind(enum.StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class EventNotice:
    """What the bus publishes: an event started, changed (better thumbnail, zones, reopened
    within the cooldown) or ended."""

    kind: NoticeKind
    event: MotionEvent

    def to_public(self) -> dict[str, Any]:
        return {"type": f"event.{self.kind.value}", "event": self.event.to_public()}


_CURSOR = re.compile(r"^(-?\d{1,15})\.(\d{1,18})$")


@dataclass(frozen=True)
class EventQuery:
    """A page of events, newest first. Every filter is optional; `camera_ids` also carries the
    caller's permissions (the API passes the cameras the user may see)."""

    camera_ids: frozenset[str] | None = None
    start_ms: int | None = None  # events overlapping [start_ms, end_ms)
    end_ms: int | None = None
    sources: frozenset[EventSource] | None = None
    zone: str | None = None
    limit: int = DEFAULT_PAGE
    cursor: str | None = None  # `next_cursor` of the previous page

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise EventQueryError(f"limit must be 1..{MAX_PAGE}, got {self.limit}")
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise EventQueryError("start must be before end")
        if self.cursor is not None:
            self.position()

    def position(self) -> tuple[int, int] | None:
        """The (start_ms, id) the page continues after, from the cursor."""
        if self.cursor is None:
            return None
        match = _CURSOR.match(self.cursor)
        if match is None:
            raise EventQueryError("malformed cursor")
        return int(match.group(1)), int(match.group(2))


def make_cursor(event: MotionEvent) -> str:
    return f"{event.start_ms}.{event.id}"


@dataclass(frozen=True)
class EventPage:
    events: tuple[MotionEvent, ...]
    next_cursor: str | None  # None: this was the last page
