"""Where capture hands its finished segments: the one boundary between capture and the index.

Capture writes files and knows nothing of the index, retention or events; whoever records
(recorder/cameras/pipeline.py, `RecordingPipeline`) implements `SegmentSink` and does the rest.
A test records into a list through `CollectingSink`, beside it here.
"""

from __future__ import annotations

from typing import Protocol

from recorder.storage.model import NewSegment


class SegmentSink(Protocol):
    async def segment_finished(self, segment: NewSegment) -> None:
        """`segment`'s file is complete and durable under its final name. Called on the event
        loop, one segment at a time and in order for each camera. A `RecorderError` is logged
        by the caller and the segment left for start-up reconciliation to index."""


class CollectingSink:
    """Keeps what it is handed, in order: for tests."""

    def __init__(self) -> None:
        self.segments: list[NewSegment] = []

    async def segment_finished(self, segment: NewSegment) -> None:
        self.segments.append(segment)
