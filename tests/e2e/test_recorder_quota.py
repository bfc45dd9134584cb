"""FIFO retention on a small quota with a real camera: the disk never fills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.capture.health import CameraState
from recorder.service import Recorder
from recorder.storage.model import Protection
from recorder.storage.state import AlertKind
from sim import CameraSpec, SimCluster
from tests.e2e.harness import (
    HealthLog,
    camera_entry,
    disk_segments,
    make_config,
    running,
    wait_for,
)

pytestmark = pytest.mark.slow

QUOTA = 8_000_000  # about eight 4-second segments of a 2 Mbps camera
HIGH = 0.90


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster([CameraSpec("cam", "idle")]) as running_cluster:
        yield running_cluster


async def test_small_quota(cluster: SimCluster, tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        [camera_entry("cam", cluster.cameras["cam"])],
        storage={"segment_seconds": 4, "max_bytes": QUOTA, "retention_interval_s": 1},
    )
    recorder = Recorder(config)
    health = HealthLog()
    recorder.health.subscribe(health)
    alerts = recorder.storage.subscribe()
    peak = 0
    seen: dict[int, int] = {}  # segment id -> start_ms, every segment ever indexed

    async with running(recorder):
        index = recorder.index
        assert index is not None

        async def sample() -> None:
            nonlocal peak
            usage = await index.usage()
            peak = max(peak, usage.total_bytes + usage.garbage_bytes)
            for segment in await index.segments_between("cam", 0, 2**62):
                seen[segment.id] = segment.start_ms

        async def first_segment() -> bool:
            await sample()
            return bool(seen)

        assert await wait_for(first_segment, 20)
        first_id = min(seen)
        first = await index.get_segment(first_id)
        assert first is not None
        kept = await index.add_protection(
            Protection("cam", first.start_ms, first.end_ms, "test: event", None)
        )

        # 1. Phase one: 45 s of recording, about 11 MB through an 8 MB quota.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            await sample()
            await asyncio.sleep(0.2)
        assert peak <= HIGH * QUOTA, f"usage peaked at {peak / QUOTA:.1%} of the quota"
        await sample()  # the last word: `remaining` must not hold a segment `seen` lacks
        remaining = {s.id for s in await index.segments_between("cam", 0, 2**62)}
        remaining &= seen.keys()  # (one indexed since is too new to matter here)
        deleted = set(seen) - remaining
        assert deleted, "retention deleted nothing: the test recorded too little"
        assert first_id in remaining, "the protected segment was deleted"
        unprotected = remaining - {first_id}
        assert max(seen[i] for i in deleted) < min(seen[i] for i in unprotected), "oldest first"
        assert disk_segments(tmp_path) == {
            s.path for s in await index.segments_between("cam", 0, 2**62)
        }

        # 2. Protect everything: nothing can be freed, so the breaker must open and pause
        #    recording rather than fill the disk.
        everything = await index.add_protection(Protection("cam", 0, 2**62, "test: all", None))

        async def paused() -> bool:
            return recorder.health.get("cam").state is CameraState.PAUSED

        assert await wait_for(paused, 40), recorder.health.get("cam")
        assert not recorder.storage.writable
        usage = await index.usage()
        assert usage.total_bytes <= 0.95 * QUOTA, "writing stopped before the quota filled"

        # 3. Release the protection: retention frees space and recording resumes by itself.
        await index.remove_protection(everything.id)
        released_ms = round(time.time() * 1000)

        async def resumed() -> bool:
            await sample()
            new = [start for start in seen.values() if start > released_ms]
            return recorder.storage.writable and bool(new)

        assert await wait_for(resumed, 30), "no new segment after the space came back"
        assert recorder.health.get("cam").state is CameraState.ONLINE
        assert kept.id in {p.id for p in await index.protections(camera_id="cam")}

    kinds = []
    while not alerts.empty():
        kinds.append(alerts.get_nowait().kind)
    assert AlertKind.BREAKER_OPENED in kinds and AlertKind.BREAKER_CLOSED in kinds
    assert AlertKind.RAISED in kinds
