"""Motion-only recording: retention keeps exactly what events (plus pre/post-roll) cover."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recorder.clock import FakeClock
from recorder.config import parse_config
from recorder.motion.activity import ActivityEnded, ActivityStarted, Sighting
from recorder.motion.bus import EventBus
from recorder.motion.config import EventsConfig, MotionConfig
from recorder.motion.service import motion_only_retention
from recorder.motion.store import SqliteEventStore
from recorder.motion.thumbnails import ThumbnailStore
from recorder.motion.writer import EventWriter
from recorder.storage.capacity import FixedCapacity
from recorder.storage.index import SegmentRef
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Protection, StorageUsage
from recorder.storage.retention import (
    DAY_MS,
    DeleteReason,
    DeleteSegments,
    DiskCapacity,
    RetentionInputs,
    RetentionPolicy,
    plan_retention,
)
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState

from .conftest import T0, place_segment

NOW = 1_700_000_000_000
S = 10_000
GRACE = 30_000
BIG_DISK = DiskCapacity(total_bytes=10**15, free_bytes=10**15 - 10**6)


def refs(camera: str, first_id: int, count: int, start: int) -> list[SegmentRef]:
    return [
        SegmentRef(
            first_id + i, camera, start, start + i * S, start + (i + 1) * S, 100, f"{camera}{i}"
        )
        for i in range(count)
    ]


def plan(
    candidates: list[SegmentRef],
    protections: tuple[Protection, ...] = (),
    policy: RetentionPolicy | None = None,
    exhausted: bool = True,
) -> list[int]:
    result = plan_retention(
        RetentionInputs(
            now_ms=NOW,
            policy=policy or RetentionPolicy(motion_only={"front": GRACE}),
            usage=StorageUsage(total_bytes=0),
            disk=BIG_DISK,
            protections=protections,
            uneventful=tuple(candidates),
            uneventful_exhausted=exhausted,
        )
    )
    assert result.final == exhausted
    return [
        i
        for a in result.actions
        if isinstance(a, DeleteSegments) and a.reason is DeleteReason.NO_EVENT
        for i in a.segment_ids
    ]


def move_to(clock: FakeClock, t: float) -> None:
    clock.advance(t - clock.now())


def test_only_segments_overlapping_an_event_range_are_kept() -> None:
    # 30 segments: -300 s .. now. One event at -200 s .. -180 s, rolls -5 s / +30 s.
    segs = refs("front", 1, 30, NOW - 30 * S)
    event = Protection("front", NOW - 205_000, NOW - 150_000, "event:1", NOW + DAY_MS)
    gone = plan(segs, (event,))
    kept = [s.id for s in segs if s.id not in gone]
    overlapping = [s.id for s in segs if s.start_ms < event.end_ms and s.end_ms > event.start_ms]
    recent = [s.id for s in segs if s.end_ms > NOW - GRACE]
    assert kept == sorted(set(overlapping) | set(recent))
    assert overlapping == [10, 11, 12, 13, 14, 15]  # -210 s .. -150 s


def test_the_grace_leaves_room_for_an_event_starting_now() -> None:
    segs = refs("front", 1, 6, NOW - 6 * S)  # ends -50 .. 0 s
    assert plan(segs) == [1, 2, 3]  # ended at -50, -40, -30 s; -20 s is within the grace


def test_other_cameras_and_expired_protections() -> None:
    front = refs("front", 1, 3, NOW - 200_000)
    back = refs("back", 10, 3, NOW - 200_000)  # continuous: not this rule's business
    expired = Protection("front", NOW - 200_000, NOW - 170_000, "event:1", NOW - 1)
    assert plan(front + back, (expired,)) == [1, 2, 3]


def test_a_partial_window_is_not_final() -> None:
    assert plan(refs("front", 1, 2, NOW - 100_000), exhausted=False) == [1, 2]


def test_the_grace_comes_from_the_events_config() -> None:
    config = parse_config(
        {
            "data_dir": "/tmp/x",
            "events": {"pre_roll_s": 5, "post_roll_s": 30},
            "cameras": [
                {"id": "a", "main_url": "rtsp://h/a", "record_mode": "motion"},
                {"id": "b", "main_url": "rtsp://h/b"},
            ],
        }
    )
    assert motion_only_retention(config.events, config.cameras) == {"a": 30_000}
    short = EventsConfig(pre_roll_s=10, post_roll_s=5)
    assert motion_only_retention(short, config.cameras) == {"a": 25_000}  # pre-roll + slack


async def test_motion_only_keeps_exactly_the_event_ranges_on_disk(
    tmp_path: Path, layout: SegmentLayout, clip: Path
) -> None:
    """Real files, real SQLite index, protections made by the event writer from events."""
    clock = FakeClock(start=(T0 - 10 * 60_000) / 1000)
    events_config = EventsConfig(pre_roll_s=5, post_roll_s=30, retention_days=30)
    async with (
        SqliteSegmentIndex(tmp_path / "index.sqlite3", clock=clock) as index,
        SqliteEventStore(tmp_path / "events.sqlite3") as store,
    ):
        await index.ensure_camera("front")
        await index.ensure_camera("back")
        writer = EventWriter(
            store=store,
            index=index,
            thumbnails=ThumbnailStore(tmp_path),
            bus=EventBus(),
            events=events_config,
            motion={"front": MotionConfig()},
            clock=clock,
        )
        # Ten minutes of 10 s segments on both cameras.
        start = T0 - 10 * 60_000
        segments = []
        for i in range(60):
            for camera in ("front", "back"):
                placed = place_segment(layout, clip, camera, start + i * S)
                segments.append(await index.add_segment(placed))
        # Two events on "front": at +120 s .. +127 s and at +400 s .. +401.5 s.
        picture = np.zeros((36, 64, 3), np.uint8)
        ranges = []
        for begin, end in ((120.0, 127.0), (400.0, 401.5)):
            t0 = start / 1000 + begin
            move_to(clock, t0)
            await writer.handle(
                "front", "software", ActivityStarted(t0, Sighting(t0, frame=picture), ())
            )
            move_to(clock, start / 1000 + end + 5)
            await writer.handle(
                "front", "software", ActivityEnded(start / 1000 + end, Sighting(t0), ())
            )
            ranges.append((round((t0 - 5) * 1000), round((start / 1000 + end + 30) * 1000)))
        move_to(clock, T0 / 1000)  # "now": the end of the recording

        config = parse_config(
            {
                "data_dir": str(tmp_path),
                "cameras": [
                    {"id": "front", "main_url": "rtsp://h/f", "record_mode": "motion"},
                    {"id": "back", "main_url": "rtsp://h/b"},
                ],
            }
        )
        policy = RetentionPolicy(motion_only=motion_only_retention(config.events, config.cameras))
        worker = RetentionWorker(
            index=index,
            layout=layout,
            policy=policy,
            probe=FixedCapacity(10**12, 10**12 - 10**6),
            state=StorageState(),
            clock=clock,
            batch=7,  # several rounds
        )
        report = await worker.run_once()

        kept = {ref.path async for ref in index.segment_refs("front")}
        grace = policy.motion_only["front"]
        expected = {
            s.path
            for s in segments
            if s.camera_id == "front"
            and (
                any(s.start_ms < end and s.end_ms > begin for begin, end in ranges)
                or s.end_ms > T0 - grace
            )
        }
        assert kept == expected
        assert report.deleted[DeleteReason.NO_EVENT] == 60 - len(expected)
        # The continuous camera keeps everything; files on disk match the index.
        assert len([ref async for ref in index.segment_refs("back")]) == 60
        on_disk = {
            str(p.relative_to(layout.data_dir)) for p in (layout.root / "front").rglob("*.mp4")
        }
        assert on_disk == kept
