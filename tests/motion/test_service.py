"""The motion worker's reconnects and the service's housekeeping (pruning, thumbnail paths)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from recorder.capture.replay import ReplayOpener
from recorder.clock import FakeClock, SystemClock
from recorder.config import CameraConfig, parse_config
from recorder.errors import StreamError
from recorder.motion.activity import ActivityEnded, ActivityStarted, Signal
from recorder.motion.config import MotionConfig, MotionSource
from recorder.motion.model import EventNotice, NoticeKind
from recorder.motion.service import TICK_S, MotionService
from recorder.motion.worker import MotionSession, MotionWorker
from recorder.storage.memory_index import MemorySegmentIndex

from .test_store import event

T0 = 1_700_000_000_000
DAY = 86_400_000


class FlakyOpener:
    """Fails the first `failures` opens, then replays the clip."""

    def __init__(self, inner: ReplayOpener, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.opened = 0

    def open(self, url: str):  # type: ignore[no-untyped-def]
        self.opened += 1
        if self.opened <= self.failures:
            raise StreamError("connection refused")
        return self.inner.open(url)


async def test_the_worker_reconnects_and_ends_activity_when_a_stream_drops(
    make_clip: Callable[..., Path],
) -> None:
    clip = make_clip(seconds=3, size="320x240", audio=False)  # testsrc2: always moving
    clock = FakeClock()
    opener = FlakyOpener(ReplayOpener(clip, clock), failures=1)
    signals: list[Signal] = []

    def session(emit: Callable[[Signal], None]) -> MotionSession:
        return MotionSession("cam", "rtsp://x/sub", opener, MotionConfig(), clock, emit)

    worker = MotionWorker("cam", session, signals.append, clock, backoff_cap_s=0.2)
    shutdown = asyncio.Event()
    task = asyncio.create_task(worker.run(shutdown))
    deadline = asyncio.get_running_loop().time() + 20
    while worker.stats.sessions < 3:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    shutdown.set()
    await task
    starts = [s for s in signals if isinstance(s, ActivityStarted)]
    ends = [s for s in signals if isinstance(s, ActivityEnded)]
    # Every session saw motion; each drop ended its activity: none is left open.
    assert len(starts) >= 2 and len(starts) == len(ends)
    assert worker.reconnects >= 3 and "closed the stream" in worker.stats.last_error
    assert worker.stats.decoded >= 2 * 45 and worker.stats.analysed >= 2 * 15


async def test_prune_removes_old_events_and_their_thumbnails(tmp_path: Path) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path),
            "events": {"retention_days": 10},
            "cameras": [{"id": "front", "main_url": "rtsp://h/m"}],
        }
    )
    clock = FakeClock(start=T0 / 1000)
    service = MotionService(config, MemorySegmentIndex(clock=clock), clock)
    store = service.events
    await store.open()
    try:
        old_thumb = "thumbnails/front/2023-11-03/1.jpg"
        old = await store.insert(
            event(start=T0 - 11 * DAY, end=T0 - 11 * DAY + 5000, thumbnail=old_thumb)
        )
        kept_thumb = "thumbnails/front/2023-11-13/2.jpg"
        kept = await store.insert(event(start=T0 - DAY, end=T0 - DAY + 5000, thumbnail=kept_thumb))
        for relative in (old_thumb, kept_thumb):
            (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relative).write_bytes(b"\xff\xd8")
        assert await service.prune() == 1
        assert await store.get(old.id) is None
        assert not (tmp_path / old_thumb).exists()
        assert await service.thumbnail_path(kept.id) == tmp_path / kept_thumb
        assert await service.thumbnail_path(old.id) is None
        assert await service.thumbnail_path(12345) is None
    finally:
        await store.close()


@dataclass
class _Running:
    service: MotionService
    index: MemorySegmentIndex
    notices: list[EventNotice]
    camera: CameraConfig  # not yet applied: the service starts with no camera


@contextlib.asynccontextmanager
async def _running(
    tmp_path: Path, make_clip: Callable[..., Path], clock: SystemClock | None = None
) -> AsyncIterator[_Running]:
    """A service running with no camera, and a camera whose clip moves all the time."""
    clip = make_clip(seconds=12, size="320x240", audio=False)
    config = parse_config({"data_dir": str(tmp_path)})
    clock = clock or SystemClock()
    index = MemorySegmentIndex(clock=clock)
    await index.open()
    service = MotionService(config, index, clock, opener=ReplayOpener(clip, clock))
    running = _Running(
        service, index, [], CameraConfig(id="front", main_url="rtsp://127.0.0.1:9/replayed")
    )
    service.bus.add_listener(running.notices.append)
    shutdown = asyncio.Event()
    task = asyncio.create_task(service.run(shutdown, cameras=[]))
    try:
        await service.ready.wait()
        yield running
    finally:
        shutdown.set()
        await task


async def _switch_off(running: _Running) -> None:
    off = running.camera.model_copy(update={"motion": MotionConfig(source=MotionSource.OFF)})
    await running.service.apply("front", off)
    assert running.notices[-1].kind is NoticeKind.END


async def test_cameras_change_at_runtime(tmp_path: Path, make_clip: Callable[..., Path]) -> None:
    """Added: detection starts; switched off: its event ends; removed: nothing left running."""
    async with _running(tmp_path, make_clip) as running:
        service, notices = running.service, running.notices
        assert service.software == {}
        await service.apply("front", running.camera)
        await wait_for(lambda: any(n.kind is NoticeKind.START for n in notices))
        assert "front" in service.software
        await _switch_off(running)
        assert service.software == {}
        await service.apply("front", None)
        assert [c.id for c in await running.index.cameras()] == ["front"]


async def test_the_event_writer_ticks_only_while_an_event_is_open(
    tmp_path: Path, make_clip: Callable[..., Path]
) -> None:
    """Ticks split long events and write updates; with no event open nothing wakes the loop."""
    clock = SleepLog()
    async with _running(tmp_path, make_clip, clock) as running:
        service = running.service
        await wait_for(lambda: service.ticker_idles == 1)
        assert service.ticks == 0 and clock.asked(TICK_S) == 0  # idle: no timer
        await service.apply("front", running.camera)
        await wait_for(lambda: any(n.kind is NoticeKind.START for n in running.notices))
        await wait_for(lambda: service.ticks >= 2)  # an event is open: a tick every TICK_S
        assert service.ticker_idles == 1 and clock.asked(TICK_S) >= 2
        await _switch_off(running)
        await wait_for(lambda: service.ticker_idles == 2)  # after a tick already waiting, if any
        assert TICK_S not in clock.pending  # closed: idle again, no timer left
        settled = service.ticks, clock.asked(TICK_S)
    assert (service.ticks, clock.asked(TICK_S)) == settled  # nothing ticked until shutdown


class SleepLog(SystemClock):
    """The system clock, remembering the sleeps it is asked for (and which still wait)."""

    def __init__(self) -> None:
        self.requested: list[float] = []
        self.pending: list[float] = []

    def asked(self, seconds: float) -> int:
        return self.requested.count(seconds)

    async def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        self.pending.append(seconds)
        try:
            await super().sleep(seconds)
        finally:
            self.pending.remove(seconds)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
