"""Retention and index queries on a full-size index: 10 cameras x 30 days of 10 s segments.

The full run takes a minute and ~1 GB of disk; `--smoke` builds 2,000 rows per camera:

    .venv/bin/python -m bench.retention [--db /tmp/bench.db] [--per-camera 259200] [--json OUT]

Rows are bulk-inserted with sqlite3 into a schema created by `SqliteSegmentIndex` (so the
triggers and indexes are the real ones); no media files exist, so unlinks find nothing, which
is the same cost for the index side and a lower bound for the disk side.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bench.output import add_output_arguments, emit_figures, environment
from recorder.clock import FakeClock
from recorder.storage.capacity import FixedCapacity
from recorder.storage.keyframe_codec import pack_keyframes
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Keyframe, Protection
from recorder.storage.retention import DAY_MS, DeleteReason, RetentionPolicy
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState

T0 = 1_700_000_000_000
SEG_MS = 10_000
SEG_BYTES = 1_250_000  # 1 Mbps x 10 s
CAMERAS = [f"cam{i:02d}" for i in range(10)]
T = TypeVar("T")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def build(db: Path, per_camera: int) -> float:
    async with SqliteSegmentIndex(db) as index:
        for camera in CAMERAS:
            await index.ensure_camera(camera)
    layout = SegmentLayout(Path())
    blob = pack_keyframes([Keyframe(i * 1000, 800 + i * 125_000) for i in range(10)])
    started = time.perf_counter()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        for camera_no, camera in enumerate(CAMERAS):
            rows = (
                (camera, T0, start, start + SEG_MS, SEG_BYTES, layout.relative_path(camera, start),
                 800, blob, "avc1.64001f", 0)
                for start in (T0 + i * SEG_MS + camera_no for i in range(per_camera))
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO segments (camera_id, run_start_ms, start_ms, end_ms, bytes, path, "
                "init_bytes, keyframes, video_codec, has_audio) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.commit()
    elapsed = time.perf_counter() - started
    print(f"built {per_camera * len(CAMERAS):,} rows in {elapsed:.1f} s")
    return elapsed


class Timings:
    """Each measured step's wall time in ms, printed as it comes and kept for the JSON."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    async def __call__(self, label: str, coro: Awaitable[T]) -> T:
        started = time.perf_counter()
        result = await coro
        self.ms[label] = round((time.perf_counter() - started) * 1000, 2)
        print(f"{label}: {self.ms[label]:.1f} ms")
        return result


async def bench(db: Path, per_camera: int) -> dict[str, Any]:
    timed = Timings()
    figures: dict[str, Any] = {"timings_ms": timed.ms}
    end = T0 + per_camera * SEG_MS
    clock = FakeClock(start=(end + 60_000) / 1000)  # a minute after the last segment
    layout = SegmentLayout(db.parent / "bench-data")
    total = per_camera * len(CAMERAS) * SEG_BYTES
    days = per_camera * SEG_MS / DAY_MS
    async with SqliteSegmentIndex(db, clock=clock) as index:
        await timed("usage()", index.usage())
        mid = T0 + per_camera * SEG_MS // 2
        await timed("segments_between(1 h)", index.segments_between("cam03", mid, mid + 3_600_000))
        await timed("segment_at", index.segment_at("cam03", mid + 1234))
        await timed("runs(24 h)", index.runs("cam03", mid, mid + DAY_MS))

        async def stream() -> int:
            return sum([1 async for _ in index.segment_refs("cam03", batch=5000)])

        await timed("segment_refs(one camera, all rows)", stream())

        def worker(policy: RetentionPolicy) -> RetentionWorker:
            return RetentionWorker(
                index=index, layout=layout, policy=policy, state=StorageState(), clock=clock,
                probe=FixedCapacity(10 * total, 9 * total),
            )  # fmt: skip

        # Steady state: retention by age, a minute's worth of segments expired.
        aged = RetentionPolicy(default_retention_days=days)
        report = await timed("run_once, steady state (age)", worker(aged).run_once())
        figures["steady_state_deleted"] = sum(report.deleted.values())
        print(f"  deleted {figures['steady_state_deleted']} segments")
        # Nothing to do: the common case every 30 s.
        await timed("run_once, nothing to delete", worker(aged).run_once())
        # Space: the quota was just crossed (90.01 %): plan alone, then plan + execute to 85 %.
        usage = await index.usage()
        quota = int(usage.total_bytes / 0.9001)
        spaced = RetentionPolicy(quota_bytes=quota)
        plan = await timed(
            "plan one round (space, window 2000)", worker(spaced).plan(int(clock.now() * 1000))
        )
        figures["space_first_round_segments"] = len(plan.deletions[0].segment_ids)
        print(f"  first round deletes {figures['space_first_round_segments']} segments")
        started = time.perf_counter()
        report = await worker(spaced).run_once()
        elapsed = time.perf_counter() - started
        deleted = sum(report.deleted.values())
        figures["space_run"] = {
            "s": round(elapsed, 3),
            "segments": deleted,
            "rounds": report.rounds,
        }
        print(f"run_once, space (90.01 % -> 85 %): {elapsed:.2f} s, {deleted:,} segments in "
              f"{report.rounds} rounds ({deleted / elapsed:,.0f} segments/s)")  # fmt: skip
        # Events everywhere: every camera's whole history inside an event, the quota crossed
        # again. Continuous footage is searched first (a scan past every protected row), then
        # event footage gives way, oldest first.
        for camera in CAMERAS:
            await index.add_protection(
                Protection(camera, T0, end + SEG_MS, "event:1", int(clock.now() * 1000) + DAY_MS)
            )
        usage = await index.usage()
        protected = RetentionPolicy(quota_bytes=int(usage.total_bytes / 0.9001))
        plan = await timed(
            "plan one round (events everywhere)", worker(protected).plan(int(clock.now() * 1000))
        )
        figures["events_first_round_segments"] = len(plan.deletions[0].segment_ids)
        print(f"  first round gives up {figures['events_first_round_segments']} event segments")
        started = time.perf_counter()
        report = await worker(protected).run_once()
        elapsed = time.perf_counter() - started
        given_up = report.deleted[DeleteReason.EVENT_SPACE]
        figures["events_run"] = {
            "s": round(elapsed, 3),
            "segments": given_up,
            "rounds": report.rounds,
        }
        print(f"run_once, events everywhere (90.01 % -> 85 %): {elapsed:.2f} s, "
              f"{given_up:,} segments in {report.rounds} rounds")  # fmt: skip
        await timed("run_once, events everywhere, nothing to delete", worker(protected).run_once())
    print(f"peak RSS {_rss_mb():.0f} MB")
    figures["peak_rss_mb"] = round(_rss_mb())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/skycam-bench/index.db"))
    parser.add_argument("--per-camera", type=int, default=30 * 8640)
    add_output_arguments(parser, smoke="2,000 segments per camera")
    args = parser.parse_args()
    per_camera = 2000 if args.smoke else args.per_camera
    env = environment()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    build_s = asyncio.run(build(args.db, per_camera))
    index_mb = args.db.stat().st_size / 1e6
    print(f"index file: {index_mb:.0f} MB")
    print(f"RSS after build {_rss_mb():.0f} MB")
    figures = asyncio.run(bench(args.db, per_camera))
    print()
    emit_figures(
        {
            "smoke": args.smoke,
            "environment": env,
            "rows": per_camera * len(CAMERAS),
            "cameras": len(CAMERAS),
            "build_s": round(build_s, 2),
            "index_mb": round(index_mb, 1),
            **figures,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
