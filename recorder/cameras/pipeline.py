"""The recording pipeline: what happens to a segment once capture has made it durable.

capture (recorder/capture/) -> `SegmentSink.segment_finished` -> `RecordingPipeline`:
index the segment, then tell retention how much was written and how much each camera is
writing now (the room to keep free for the segments in flight). This is the one place where
capture's output meets storage; before, the same path ran through four callbacks spread over
the worker, the fleet and the service.
"""

from __future__ import annotations

import logging
from typing import Protocol

from recorder.storage.index import SegmentIndex
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)


class RetentionPoke(Protocol):
    def poke(self, indexed_bytes: int | None = None) -> None:
        """A segment of `indexed_bytes` was indexed (recorder/storage/retention_worker.py)."""


class InFlight:
    """What each camera is writing now, estimated from its last segment: retention keeps that
    much room free so the segments being written always fit."""

    def __init__(self, segment_seconds: float) -> None:
        # A segment is cut at the first keyframe after its length: allow a GOP more.
        self._full_s = segment_seconds + 1
        self._bytes: dict[str, int] = {}

    def note(self, last: NewSegment) -> None:
        """`last` is the camera's newest segment: it writes at that byte rate over a whole
        segment (one cut short by a reconnect or the breaker must not shrink the estimate)."""
        seconds = max(last.duration_ms, 1000) / 1000
        self._bytes[last.camera_id] = round(last.bytes / seconds * self._full_s)

    def forget(self, camera_id: str) -> None:
        """The camera was removed or changed: its next segment gives the new estimate."""
        self._bytes.pop(camera_id, None)

    def total(self) -> int:
        return sum(self._bytes.values())


class RecordingPipeline:
    """Capture's `SegmentSink`: index each finished segment, then account for it."""

    def __init__(self, index: SegmentIndex, in_flight: InFlight, retention: RetentionPoke) -> None:
        self._index = index
        self._in_flight = in_flight
        self._retention = retention
        self.segments = 0  # segments indexed through the pipeline: progress a test can await

    async def segment_finished(self, segment: NewSegment) -> None:
        await self._index.add_segment(segment)
        self.segments += 1
        self._in_flight.note(segment)
        self._retention.poke(segment.bytes)
