"""The recording pipeline: each finished segment is indexed, then retention hears of it."""

from __future__ import annotations

import pytest

from recorder.cameras.pipeline import InFlight, RecordingPipeline
from recorder.errors import IndexConflict
from recorder.storage.memory_index import MemorySegmentIndex
from recorder.storage.model import NewSegment

T0 = 1_700_000_000_000


def segment(camera_id: str, start_ms: int, seconds: float, size: int) -> NewSegment:
    end_ms = start_ms + round(seconds * 1000)
    path = f"recordings/{camera_id}/2023-11-14/22/{start_ms}.mp4"
    return NewSegment(camera_id, start_ms, start_ms, end_ms, size, path, 800)


class Pokes:
    def __init__(self) -> None:
        self.bytes: list[int | None] = []

    def poke(self, indexed_bytes: int | None = None) -> None:
        self.bytes.append(indexed_bytes)


async def test_a_finished_segment_is_indexed_then_retention_is_told() -> None:
    index = MemorySegmentIndex()
    await index.open()
    await index.ensure_camera("cam1")
    in_flight, pokes = InFlight(segment_seconds=10), Pokes()
    pipeline = RecordingPipeline(index, in_flight, pokes)
    first = segment("cam1", T0, 10, 1_000_000)
    await pipeline.segment_finished(first)
    assert [s.path for s in await index.segments_between("cam1", 0, 2**62)] == [first.path]
    assert pokes.bytes == [1_000_000] and pipeline.segments == 1
    assert in_flight.total() == 1_100_000  # 100 kB/s over a segment and a GOP (11 s)


async def test_a_segment_the_index_refuses_is_not_counted() -> None:
    index = MemorySegmentIndex()  # no camera: the row cannot be inserted
    await index.open()
    pokes = Pokes()
    pipeline = RecordingPipeline(index, InFlight(10), pokes)
    with pytest.raises(IndexConflict):
        await pipeline.segment_finished(segment("nobody", T0, 10, 1_000))
    assert pokes.bytes == [] and pipeline.segments == 0


def test_in_flight_is_each_cameras_rate_over_a_whole_segment() -> None:
    in_flight = InFlight(segment_seconds=4)
    in_flight.note(segment("cam1", T0, 4, 400_000))
    in_flight.note(segment("cam2", T0, 0.2, 20_000))  # cut short: still a second's rate at least
    assert in_flight.total() == 500_000 + 100_000
    in_flight.note(segment("cam1", T0 + 4_000, 4, 800_000))  # the newest segment decides
    in_flight.forget("cam2")
    assert in_flight.total() == 1_000_000
