"""A full disk never stops recording: real cameras, the real recorder, a real small filesystem.

1. Four cameras with motion three times a minute and the default configuration on a small ext4
   disk: events cover every segment (pre- and post-roll), yet recording goes on for the whole
   run, the disk never passes the high-water mark by more than one segment, and the alarms say
   which event footage was given up (the audit log too).
2. Another program fills the same kind of disk to the last byte and keeps it full: writes fail
   with "no space left", no truncated file is left anywhere, recording pauses, and it resumes
   within seconds of the space coming back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.capture.health import CameraState
from recorder.service import Recorder
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.state import AlertKind, StorageAlert
from sim import CameraSpec, SimCluster
from tests.e2e.harness import (
    HealthLog,
    camera_entry,
    disk_segments,
    indexed_segments,
    make_config,
    running,
    wait_for,
)
from tests.small_fs import fill, small_filesystem

pytestmark = pytest.mark.slow

CAMERAS = ("cam1", "cam2", "cam3", "cam4")


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster([CameraSpec(name, "motion") for name in CAMERAS]) as running_cluster:
        yield running_cluster


def disk_used(path: Path) -> tuple[int, int]:
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    return total - st.f_bavail * st.f_frsize, total


async def test_events_everywhere_still_never_stop_recording(
    cluster: SimCluster, tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    with small_filesystem(recordings, 56 * 1024 * 1024, "ext4"):
        config = make_config(
            tmp_path, [camera_entry(name, cluster.cameras[name]) for name in CAMERAS]
        )
        recorder = Recorder(config)
        health = HealthLog()
        recorder.health.subscribe(health)
        alerts: list[StorageAlert] = []
        recorder.storage.add_listener(alerts.append)
        _, total = disk_used(recordings)
        high = total * config.storage.high_water_percent / 100
        peak = 0
        largest_segment = 0
        seen: dict[int, tuple[str, int, int]] = {}  # every segment ever indexed

        async with running(recorder):
            index = recorder.index
            assert index is not None

            async def sample() -> None:
                nonlocal peak, largest_segment
                peak = max(peak, disk_used(recordings)[0])
                for name in CAMERAS:
                    for segment in await index.segments_between(name, 0, 2**62):
                        largest_segment = max(largest_segment, segment.bytes)
                        seen[segment.id] = (name, segment.start_ms, segment.end_ms)

            async def events_given_up() -> bool:
                await sample()
                return any(a.kind is AlertKind.EVENTS_DELETED for a in alerts)

            # About 1 MB/s into a ~50 MB disk: event footage has to give way within a minute.
            assert await wait_for(events_given_up, 120), [a.message for a in alerts]
            given_up_at = time.time()
            # Then recording must go on: 40 s more, sampling the disk five times a second.
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                await sample()
                await asyncio.sleep(0.2)
            ended_at = time.time()

            await sample()
            start_ms, end_ms = round(given_up_at * 1000), round(ended_at * 1000)
            for name in CAMERAS:
                # Every segment ever indexed (retention deletes the oldest as it goes: the disk
                # holds about half a minute): recorded up to the segment in flight (10 s and a
                # GOP at most, not indexed yet) without a hole.
                spans = sorted(span for span in seen.values() if span[0] == name)
                newest = max(end for _, _, end in spans)
                assert newest >= end_ms - 12_000, (name, spans)
                cursor, holes = start_ms, []
                for _, begin, end in spans:
                    if end <= start_ms:
                        continue
                    if begin > cursor + 1000:
                        holes.append((cursor - start_ms, begin - start_ms))
                    cursor = max(cursor, end)
                assert holes == [], (name, holes)
            assert recorder.api is not None
            audit = await recorder.api.context.audit.query(action="storage.events_deleted")
            protections = await index.protections()

        print(
            f"\ndisk peak {peak / total:.1%} (high water {high / total:.0%}, largest segment "
            f"{largest_segment / total:.1%}); event footage given up in "
            f"{len([a for a in alerts if a.kind is AlertKind.EVENTS_DELETED])} passes"
        )
        assert peak <= high + largest_segment, (
            f"disk peaked at {peak / total:.1%}, high water {high / total:.0%}, "
            f"a segment is {largest_segment / total:.1%}"
        )
        states = {h.state for _, h in health.changes}
        assert CameraState.PAUSED not in states and CameraState.ERROR not in states
        kinds = {a.kind for a in alerts}
        assert AlertKind.BREAKER_OPENED not in kinds
        given_up = [a for a in alerts if a.kind is AlertKind.EVENTS_DELETED]
        assert sum(a.detail["segments"] for a in given_up) >= 4
        assert "event footage" in given_up[0].message
        assert audit and audit[-1].detail["segments"] == given_up[0].detail["segments"]
        assert any(p.reason.startswith("event:") for p in protections)  # motion was on
        assert all(0 <= a.used_percent <= 100 for a in alerts)


async def test_another_program_filling_the_disk_leaves_no_truncated_file(
    cluster: SimCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    recordings = tmp_path / "recordings"
    with small_filesystem(recordings, 40 * 1024 * 1024, "ext4"):
        no_motion = {"motion": {"source": "off"}}
        config = make_config(
            tmp_path,
            [camera_entry(name, cluster.cameras[name], **no_motion) for name in CAMERAS[:2]],
            storage={"segment_seconds": 4},
        )
        recorder = Recorder(config)
        alerts: list[StorageAlert] = []
        recorder.storage.add_listener(alerts.append)
        filler = recordings / "filler"  # another program's file, on the same disk
        stop_filling = threading.Event()

        def keep_it_full() -> None:
            while not stop_filling.is_set():
                fill(filler, leave_bytes=0)
                stop_filling.wait(0.02)

        async with running(recorder):
            index = recorder.index
            assert index is not None

            async def segments_of_both() -> bool:
                return all([await index.latest_segment(name) for name in CAMERAS[:2]])

            assert await wait_for(segments_of_both, 40)
            thread = threading.Thread(target=keep_it_full, daemon=True)
            thread.start()
            try:

                async def paused() -> bool:
                    return recorder.storage.breaker_open

                assert await wait_for(paused, 30), [a.message for a in alerts]

                async def every_camera_hit_the_wall() -> bool:
                    health = recorder.health
                    return all(health.get(n).state is CameraState.PAUSED for n in CAMERAS[:2])

                assert await wait_for(every_camera_hit_the_wall, 30), [
                    recorder.health.get(n) for n in CAMERAS[:2]
                ]
                percents = [recorder.storage.used_percent]
            finally:
                stop_filling.set()
                await asyncio.to_thread(thread.join, 10)
            filler.unlink()
            freed_at = time.time()

            async def resumed() -> bool:
                for name in CAMERAS[:2]:
                    latest = await index.latest_segment(name)
                    if latest is None or latest.start_ms < freed_at * 1000:
                        return False
                return True

            assert await wait_for(resumed, 40), "recording did not resume"
            first_new = min(
                [
                    s.start_ms
                    for name in CAMERAS[:2]
                    for s in await index.segments_between(name, round(freed_at * 1000), 2**62)
                ]
            )

        resumed_after_s = first_new / 1000 - freed_at
        failed = sum("No space left" in r.getMessage() for r in caplog.records)
        print(f"\nresumed {resumed_after_s:.2f} s after space returned; {failed} failed writes")
        assert resumed_after_s < 5, (
            f"recording resumed {resumed_after_s:.1f} s after space returned"
        )
        no_space = [r for r in caplog.records if "No space left" in r.getMessage()]
        assert no_space, "the disk never refused a write: the test did not test that"
        assert percents[0] <= 100
        kinds = [a.kind for a in alerts]
        assert AlertKind.BREAKER_OPENED in kinds and AlertKind.BREAKER_CLOSED in kinds
        raised = [a for a in alerts if a.kind is AlertKind.RAISED]
        assert raised[-1].level == 95 and "filesystem" in raised[-1].message
        # No truncated file anywhere: every file on the disk is an indexed, complete segment
        # (read after the stop, which finished and indexed the segments in flight).
        indexed = {s.path for name in CAMERAS[:2] for s in await indexed_segments(tmp_path, name)}
        on_disk = disk_segments(tmp_path)
        assert on_disk == indexed
        for path in on_disk:
            facts = inspect_fmp4(tmp_path / path)
            assert facts.complete, (path, facts.problem)
        others = [p for p in recordings.rglob("*") if p.is_file() and p.suffix != ".mp4"]
        assert others == []
        assert not (tmp_path / "quarantine").exists()
