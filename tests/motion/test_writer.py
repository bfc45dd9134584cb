"""Event changes applied: rows, protections, thumbnails and notices (real SQLite, fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recorder.clock import FakeClock
from recorder.motion.activity import ActivityEnded, ActivityImproved, ActivityStarted, Sighting
from recorder.motion.analysis import Box
from recorder.motion.bus import EventBus
from recorder.motion.config import EventsConfig, MotionConfig
from recorder.motion.model import EventNotice, EventQuery, NoticeKind
from recorder.motion.store import SqliteEventStore
from recorder.motion.thumbnails import ThumbnailStore
from recorder.motion.writer import DAY_MS, EventWriter
from recorder.storage.sqlite_index import SqliteSegmentIndex

T = 1_700_000_000.0
MS = 1000
PICTURE = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)


@dataclass
class Rig:
    writer: EventWriter
    store: SqliteEventStore
    index: SqliteSegmentIndex
    clock: FakeClock
    notices: list[EventNotice]
    data: Path

    def fresh_writer(self) -> EventWriter:
        return EventWriter(
            store=self.store,
            index=self.index,
            thumbnails=ThumbnailStore(self.data),
            bus=EventBus(),
            events=EventsConfig(),
            motion={"front": MotionConfig()},
            clock=self.clock,
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock(start=T)
    async with (
        SqliteSegmentIndex(tmp_path / "index.sqlite3", clock=clock) as index,
        SqliteEventStore(tmp_path / "events.sqlite3") as store,
    ):
        await index.ensure_camera("front")
        bus = EventBus()
        notices: list[EventNotice] = []
        bus.add_listener(notices.append)
        writer = EventWriter(
            store=store,
            index=index,
            thumbnails=ThumbnailStore(tmp_path),
            bus=bus,
            events=EventsConfig(pre_roll_s=5, post_roll_s=30, retention_days=30),
            motion={"front": MotionConfig(cooldown_s=10, max_event_s=300)},
            clock=clock,
        )
        yield Rig(writer, store, index, clock, notices, tmp_path)


def sighting(at: float, score: float = 0.02) -> Sighting:
    return Sighting(at, score, Box(0.2, 0.3, 0.1, 0.2), ("gate",), PICTURE)


async def test_an_event_from_start_to_end(rig: Rig) -> None:
    await rig.writer.handle("front", "software", ActivityStarted(T, sighting(T), ("gate",)))
    [started] = rig.notices
    event = started.event
    assert started.kind is NoticeKind.START and event.ongoing
    assert event.start_ms == T * MS and event.record_start_ms == (T - 5) * MS
    assert event.zones == ("gate",) and event.box == Box(0.2, 0.3, 0.1, 0.2)
    # The thumbnail is on disk before anyone is told about the event.
    assert event.thumbnail is not None
    thumb = ThumbnailStore(rig.data).absolute(event.thumbnail)
    assert thumb.read_bytes()[:2] == b"\xff\xd8" and thumb.stat().st_size <= 50_000
    # While open, the longest the event can become is protected.
    [provisional] = await rig.index.protections(camera_id="front")
    assert provisional.reason == f"event:{event.id}"
    assert provisional.start_ms == (T - 5) * MS
    assert provisional.end_ms == (T + 300 + 30) * MS

    rig.clock.advance(1)
    await rig.writer.handle("front", "software", ActivityImproved(sighting(T + 1, 0.05), ()))
    assert len(rig.notices) == 1  # updates are paced
    rig.clock.advance(1.5)
    await rig.writer.tick()
    assert [n.kind for n in rig.notices] == [NoticeKind.START, NoticeKind.UPDATE]
    assert rig.notices[-1].event.score == 0.05

    rig.clock.advance(5)
    await rig.writer.handle("front", "software", ActivityEnded(T + 2.5, sighting(T + 1), ()))
    ended = rig.notices[-1]
    assert ended.kind is NoticeKind.END
    assert ended.event.end_ms == (T + 2.5) * MS
    assert ended.event.record_end_ms == (T + 2.5 + 30) * MS
    [final] = await rig.index.protections(camera_id="front")
    assert (final.start_ms, final.end_ms) == ((T - 5) * MS, (T + 32.5) * MS)
    assert final.expires_ms == (T + 32.5) * MS + 30 * DAY_MS
    assert await rig.store.get(event.id) == ended.event


async def test_motion_within_the_cooldown_reopens_and_protects_again(rig: Rig) -> None:
    writer = rig.writer
    await writer.handle("front", "software", ActivityStarted(T, sighting(T), ()))
    await writer.handle("front", "software", ActivityEnded(T + 3, sighting(T), ()))
    rig.clock.advance(8)
    await writer.handle("front", "software", ActivityStarted(T + 8, sighting(T + 8), ()))
    reopened = rig.notices[-1]
    assert reopened.kind is NoticeKind.UPDATE and reopened.event.ongoing
    [protection] = await rig.index.protections(camera_id="front")
    assert protection.end_ms == (T + 300 + 30) * MS  # provisional again
    page = await rig.store.query(EventQuery())
    assert len(page.events) == 1


async def test_a_camera_without_motion_settings_is_ignored(rig: Rig) -> None:
    await rig.writer.handle("garage", "software", ActivityStarted(T, sighting(T), ()))
    assert rig.notices == []


async def test_recover_closes_events_left_open_by_a_crash(rig: Rig) -> None:
    await rig.writer.handle("front", "software", ActivityStarted(T, sighting(T), ()))
    rig.clock.advance(12)
    await rig.writer.tick()  # touches the open event: its last sign of life
    # The process dies here. The next start:
    assert await rig.fresh_writer().recover() == 1
    [event] = (await rig.store.query(EventQuery())).events
    assert event.end_ms is not None and (T + 10) * MS <= event.end_ms <= (T + 12) * MS
    assert event.record_end_ms == event.end_ms + 30_000
    # The provisional protection stays: a little too much kept, never too little.
    [protection] = await rig.index.protections(camera_id="front")
    assert protection.end_ms >= event.record_end_ms


async def test_an_onvif_event_gets_the_snapshot_as_thumbnail(rig: Rig) -> None:
    await rig.writer.handle("front", "onvif", ActivityStarted(T, Sighting(T), ()))
    assert rig.notices[-1].event.thumbnail is None
    await rig.writer.handle("front", "onvif", ActivityImproved(Sighting(T, frame=PICTURE), ()))
    rig.clock.advance(3)
    await rig.writer.tick()
    event = rig.notices[-1].event
    assert event.thumbnail is not None and event.source.value == "onvif" and event.box is None
