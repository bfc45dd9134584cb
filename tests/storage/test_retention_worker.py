"""Retention end to end on real segment files and a real SQLite index."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from recorder.clock import Clock, FakeClock, SystemClock
from recorder.errors import IndexFailure
from recorder.storage.capacity import CapacityProbe, FixedCapacity, StatvfsProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.memory_index import MemorySegmentIndex
from recorder.storage.model import Protection, Segment, StorageUsage
from recorder.storage.retention import DAY_MS, DeleteReason, DiskCapacity, RetentionPolicy
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import AlertKind, StorageState

from .conftest import T0, place_segment

S = 10_000


async def _record(
    index: SegmentIndex,
    layout: SegmentLayout,
    clip: Path,
    cameras: Iterable[str],
    count: int,
    start: int,
) -> list[Segment]:
    out = []
    for camera in cameras:
        await index.ensure_camera(camera)
    for i in range(count):
        for camera in cameras:
            out.append(await index.add_segment(place_segment(layout, clip, camera, start + i * S)))
    return out


def _files(layout: SegmentLayout) -> set[str]:
    return {str(p.relative_to(layout.data_dir)) for p in layout.root.rglob("*.mp4")}


async def _indexed(index: SegmentIndex, cameras: Iterable[str]) -> set[str]:
    return {ref.path for cam in cameras async for ref in index.segment_refs(cam)}


def _worker(
    index: SegmentIndex,
    layout: SegmentLayout,
    policy: RetentionPolicy,
    clock: Clock,
    probe: CapacityProbe | None = None,
    state: StorageState | None = None,
    **kw: Any,
) -> RetentionWorker:
    return RetentionWorker(
        index=index,
        layout=layout,
        policy=policy,
        probe=probe or StatvfsProbe(layout.data_dir),
        state=state or StorageState(),
        clock=clock,
        **kw,
    )


async def test_small_quota_deletes_oldest_first_and_keeps_protected(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    start = T0 - 2 * DAY_MS  # two days ago: whole hour directories become empty
    segs = await _record(sqlite_index, layout, clip, ["a", "b"], 15, start)
    size = segs[0].bytes
    protected = segs[0]  # camera a's oldest
    await sqlite_index.add_protection(Protection("a", protected.start_ms, protected.end_ms, "clip"))
    quota = 20 * size  # 30 segments recorded: 150 % of the quota
    worker = _worker(sqlite_index, layout, RetentionPolicy(quota_bytes=quota), clock, batch=7)

    report = await worker.run_once()

    usage = await sqlite_index.usage()
    assert usage.total_bytes <= 0.90 * quota  # never ends above high water
    assert usage.total_bytes <= 0.85 * quota  # in fact down to low water
    assert (
        report.deleted[DeleteReason.SPACE]
        == 30 - usage.per_camera[0].segments - usage.per_camera[1].segments
    )
    assert report.rounds > 1  # the 7-row window forced several rounds
    # Oldest went first (across both cameras), the protected oldest stayed.
    kept = await _indexed(sqlite_index, "ab")
    assert protected.path in kept
    gone = [s for s in segs if s.path not in kept]
    assert max(s.start_ms for s in gone) < min(
        s.start_ms for s in segs if s.path in kept and s != protected
    )
    # Disk and index agree, nothing is left in garbage.
    assert _files(layout) == kept
    assert await sqlite_index.list_garbage() == []
    assert usage.garbage_bytes == 0


async def test_crossing_high_water_drains_to_low_water_across_rounds(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    segs = await _record(sqlite_index, layout, clip, ["a"], 20, T0 - DAY_MS)
    quota = int(20 * segs[0].bytes / 0.905)  # 90.5 %: one segment is enough to dip below 90
    worker = _worker(sqlite_index, layout, RetentionPolicy(quota_bytes=quota), clock, batch=1)
    report = await worker.run_once()
    assert (await sqlite_index.usage()).total_bytes <= 0.85 * quota
    assert report.deleted[DeleteReason.SPACE] == 2 and report.rounds == 2


async def test_age_limit_deletes_only_that_cameras_old_segments(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    old = await _record(sqlite_index, layout, clip, ["a", "b"], 3, T0 - 8 * DAY_MS)
    new = await _record(sqlite_index, layout, clip, ["a", "b"], 2, T0 - DAY_MS)
    policy = RetentionPolicy(retention_days={"a": 7, "b": None})
    report = await _worker(sqlite_index, layout, policy, clock).run_once()
    assert report.deleted[DeleteReason.AGE] == 3
    assert report.deleted[DeleteReason.SPACE] == 0
    expected = {s.path for s in new} | {s.path for s in old if s.camera_id == "b"}
    assert await _indexed(sqlite_index, "ab") == expected == _files(layout)
    # The emptied hour and day directories of camera a are gone, camera b's remain.
    assert not any((layout.camera_dir("a")).glob(f"{old[0].path.split('/')[2]}"))


class _DiskWithOtherData:
    """A filesystem of `total` bytes where other programs hold `other` bytes besides ours."""

    def __init__(self, layout: SegmentLayout, total: int, other: int) -> None:
        self.layout, self.total, self.other = layout, total, other

    def capacity(self) -> DiskCapacity:
        ours = sum(p.stat().st_size for p in self.layout.root.rglob("*.mp4"))
        return DiskCapacity(self.total, self.total - self.other - ours)


async def test_breaker_opens_when_only_protected_data_is_left_and_closes_after(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    segs = await _record(sqlite_index, layout, clip, ["a"], 10, T0 - DAY_MS)
    size = segs[0].bytes
    guard = await sqlite_index.add_protection(Protection("a", T0 - 2 * DAY_MS, T0, "evidence"))
    disk = _DiskWithOtherData(layout, total=100 * size, other=86 * size)  # 96 % full
    state = StorageState()
    alerts = state.subscribe()
    worker = _worker(sqlite_index, layout, RetentionPolicy(), clock, probe=disk, state=state)

    await worker.run_once()
    assert not state.writable and state.breaker_open
    kinds = [alerts.get_nowait().kind for _ in range(alerts.qsize())]
    assert kinds == [AlertKind.RAISED, AlertKind.BREAKER_OPENED]
    assert state.alarm_level == 95
    assert len(_files(layout)) == 10  # protected footage survived

    await sqlite_index.remove_protection(guard.id)
    await worker.run_once()
    assert state.writable
    assert [alerts.get_nowait().kind for _ in range(alerts.qsize())] == [
        AlertKind.CLEARED,
        AlertKind.BREAKER_CLOSED,
    ]
    # Every recording went (overwrite-oldest), leaving the other programs' 86 %.
    assert _files(layout) == set()
    assert state.used_percent == pytest.approx(86, abs=0.1)
    assert state.alarm_level == 80


async def test_leftover_garbage_is_finished_first(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    segs = await _record(sqlite_index, layout, clip, ["a"], 2, T0 - DAY_MS)
    await sqlite_index.mark_garbage([segs[0].id])  # as if we crashed before unlinking
    report = await _worker(sqlite_index, layout, RetentionPolicy(), clock).run_once()
    assert report.garbage.unlinked == 1
    assert _files(layout) == {segs[1].path}
    assert await sqlite_index.list_garbage() == []


class _FlakyIndex(MemorySegmentIndex):
    """Fails its first `failures` usage() calls, as a locked or full disk would."""

    def __init__(self, failures: int, **kw: FakeClock) -> None:
        super().__init__(**kw)
        self.failures = failures
        self.calls = 0

    async def usage(self) -> StorageUsage:
        self.calls += 1
        if self.calls <= self.failures:
            raise IndexFailure("database is locked")
        return await super().usage()


async def test_run_once_raises_and_run_survives_failures(
    layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    async with _FlakyIndex(failures=3, clock=clock) as index:
        await _record(index, layout, clip, ["a"], 3, T0 - 10 * DAY_MS)
        worker = _worker(index, layout, RetentionPolicy(retention_days={"a": 1}), clock,
                         probe=FixedCapacity(10**12, 10**11), interval_s=60)  # fmt: skip
        with pytest.raises(IndexFailure):
            await worker.run_once()

        shutdown = asyncio.Event()
        task = asyncio.create_task(worker.run(shutdown))
        for _ in range(200):  # the fake clock makes backoff sleeps instant
            await asyncio.sleep(0)
            if not _files(layout):
                break
        shutdown.set()
        await asyncio.wait_for(task, 5)
        assert _files(layout) == set()  # it got through after the failures
        assert index.calls > 3
        assert (await index.usage()).total_bytes == 0


async def test_poke_runs_retention_without_waiting_for_the_interval(
    layout: SegmentLayout, clip: Path
) -> None:
    clock = SystemClock()
    async with MemorySegmentIndex() as index:
        await index.ensure_camera("a")
        worker = _worker(index, layout, RetentionPolicy(retention_days={"a": 1}),
                         clock, probe=FixedCapacity(10**12, 10**11), interval_s=3600,
                         min_interval_s=0)  # fmt: skip
        shutdown = asyncio.Event()
        task = asyncio.create_task(worker.run(shutdown))
        await _wait_until(lambda: worker.passes == 1)  # first pass done, now waiting an hour
        now = int(clock.now() * 1000)
        await index.add_segment(place_segment(layout, clip, "a", now - 3 * DAY_MS))
        worker.poke()
        await _wait_until(lambda: worker.passes == 2)
        shutdown.set()
        await asyncio.wait_for(task, 2)  # shutdown interrupts the hour-long wait
        assert _files(layout) == set()


class _CountingCapacity(FixedCapacity):
    """Counts the passes (each reads the capacity once when it deletes nothing)."""

    def __init__(self, total_bytes: int, free_bytes: int) -> None:
        super().__init__(total_bytes, free_bytes)
        self.reads = 0

    def capacity(self) -> DiskCapacity:
        self.reads += 1
        return super().capacity()


async def _passes_while_poked(
    probe: _CountingCapacity, layout: SegmentLayout, segment_bytes: int
) -> int:
    """Poke 50 times, as segments of many cameras would; count the passes. Each poke that asks
    for a pass is followed by it before the next poke, so the count is exact."""
    async with MemorySegmentIndex() as index:
        await index.ensure_camera("a")
        worker = _worker(index, layout, RetentionPolicy(), SystemClock(), probe=probe,
                         interval_s=3600, min_interval_s=0)  # fmt: skip
        shutdown = asyncio.Event()
        task = asyncio.create_task(worker.run(shutdown))
        await _wait_until(lambda: worker.passes == 1)
        for _ in range(50):
            passes = worker.passes
            worker.poke(segment_bytes)
            if worker.pass_due:
                await _wait_until(lambda: worker.passes == passes + 1)  # noqa: B023 (awaited here)
        shutdown.set()
        await asyncio.wait_for(task, 10)
    return probe.reads


async def test_pokes_wait_while_the_room_left_is_far_from_used(layout: SegmentLayout) -> None:
    roomy = _CountingCapacity(10**12, 9 * 10**11)  # 10 % used: 800 GB below the 90 % mark
    assert await _passes_while_poked(roomy, layout, 10**9) == 1  # 50 GB indexed: the first only


async def test_a_pass_runs_once_the_segments_could_fill_the_room_left(
    layout: SegmentLayout,
) -> None:
    roomy = _CountingCapacity(10**12, 9 * 10**11)
    # 100 GB a segment: the 800 GB of room is used up every 8 pokes.
    assert 5 <= await _passes_while_poked(roomy, layout, 10**11) <= 8


async def test_pokes_are_followed_at_once_near_the_high_water_mark(layout: SegmentLayout) -> None:
    tight = _CountingCapacity(10**12, 10**11)  # 90 % used: at the mark
    assert await _passes_while_poked(tight, layout, 10**6) >= 20


async def test_event_footage_gives_way_oldest_first_and_says_so(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    # Every segment inside an event; a clip export holds the oldest two: 10 of 10 at 100 %.
    segs = await _record(sqlite_index, layout, clip, ["a"], 10, T0 - DAY_MS)
    size = segs[0].bytes
    await sqlite_index.add_protection(Protection("a", T0 - 2 * DAY_MS, T0, "event:1", T0 + DAY_MS))
    await sqlite_index.add_protection(
        Protection("a", segs[0].start_ms, segs[1].end_ms, "clip 1 export", T0 + DAY_MS)
    )
    state = StorageState()
    alerts = state.subscribe()
    policy = RetentionPolicy(quota_bytes=10 * size)
    report = await _worker(sqlite_index, layout, policy, clock, state=state).run_once()

    # 100 % -> 85 %: two segments would do, but the export's two stay: the 3rd and 4th go.
    assert report.deleted[DeleteReason.EVENT_SPACE] == 2
    kept = await _indexed(sqlite_index, "a")
    assert kept == _files(layout) == {s.path for s in segs} - {segs[2].path, segs[3].path}
    assert state.writable
    sent = [alerts.get_nowait() for _ in range(alerts.qsize())]
    given_up = [a for a in sent if a.kind is AlertKind.EVENTS_DELETED]
    assert len(given_up) == 1
    assert given_up[0].detail == {
        "segments": 2,
        "bytes": 2 * size,
        "start_ms": segs[2].start_ms,
        "end_ms": segs[3].end_ms,
        "camera_ids": ["a"],
    }
    assert "event footage" in given_up[0].message
    assert state.used_percent == pytest.approx(80.0)  # measured after the deletion


async def test_events_keep_their_footage_when_configured_and_recording_pauses(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clock: FakeClock
) -> None:
    segs = await _record(sqlite_index, layout, clip, ["a"], 10, T0 - DAY_MS)
    await sqlite_index.add_protection(Protection("a", T0 - 2 * DAY_MS, T0, "event:1", T0 + DAY_MS))
    state = StorageState()
    policy = RetentionPolicy(quota_bytes=10 * segs[0].bytes, events_yield_to_space=False)
    report = await _worker(sqlite_index, layout, policy, clock, state=state).run_once()
    assert sum(report.deleted.values()) == 0
    assert len(_files(layout)) == 10
    assert state.breaker_open


async def test_space_given_back_by_another_program_resumes_recording_within_the_watch(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    clock = SystemClock()
    disk = FixedCapacity(10**9, 10**6)  # another program holds 99.9 % of the disk
    state = StorageState()
    worker = _worker(sqlite_index, layout, RetentionPolicy(), clock, probe=disk, state=state,
                     interval_s=3600, min_interval_s=0, watch_interval_s=0.05,
                     reserve=lambda: 10**6)  # fmt: skip
    shutdown = asyncio.Event()
    task = asyncio.create_task(worker.run(shutdown))
    try:
        await _wait_until(lambda: state.breaker_open)
        assert state.breaker_open and state.used_percent == pytest.approx(99.9)
        disk.free_bytes = 6 * 10**8  # it deleted its file: 40 %
        await _wait_until(lambda: not state.breaker_open)  # the pass interval is an hour
        assert state.writable and state.used_percent == pytest.approx(40.0)
        disk.free_bytes = 10**6  # and filled it again: noticed without any segment indexed
        await _wait_until(lambda: state.breaker_open)
        assert state.breaker_open
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 5)


async def _wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)
