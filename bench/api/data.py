"""The API benchmark's store: 30 days x 10 cameras of 10 s segments, built once and cached.

One real segment is recorded by the real capture code (CaptureSession + ReplayOpener + FakeClock,
as tests/api/conftest.py does) from an ffmpeg test clip. Its facts (bytes, init size, keyframe
table, codec) fill 2,592,000 rows inserted straight into the real index schema, in time order
across cameras as live capture would insert them (so one camera's rows are interleaved with the
others' in the table, as in the field).

Every row has a file: the recorder reconciles disk and index at start and drops rows whose file
is missing, so the files are hard links to a few copies of the real segment (ext4 allows 65,000
links per inode). They share their bytes, so reads come from the page cache: the figures measure
the recorder's work, not a cold disk.

Each camera-day has one 30 s gap at a different time (a reconnect), which starts a new run; rows
continue after the 30th day until every camera has 259,200.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from recorder.capture.health import HealthBoard
from recorder.capture.replay import ReplayOpener
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import FakeClock
from recorder.errors import StreamError
from recorder.site import INDEX_DB as INDEX_FILE
from recorder.storage.keyframe_codec import pack_keyframes
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from recorder.storage.sqlite_index import SqliteSegmentIndex

VERSION = "api-data-3"  # change when the store's shape changes: a new cache entry is built
DAY_MS = 86_400_000
SEGMENT_MS = 10_000
SLOTS_PER_DAY = DAY_MS // SEGMENT_MS
GAP_SLOTS = 3  # one 30 s outage per camera-day
LINKS_PER_COPY = 60_000  # under ext4's 65,000 links per inode
BATCH = 100_000
CLIP_SECONDS = 30
FFMPEG_CLIP = (
    "-f lavfi -i testsrc2=size=1280x720:rate=15 -t {seconds} -c:v libx264 -preset veryfast "
    "-g 15 -keyint_min 15 -sc_threshold 0 -bf 0 -b:v 2M"
)
SOURCE_DIR = "bench-source"  # outside recordings/: never indexed, never reconciled


@dataclass(frozen=True)
class StoreFacts:
    """What was built, for the report and for choosing what to query."""

    version: str
    cameras: tuple[str, ...]
    days: int
    rows: int
    first_ms: int  # midnight UTC at the start of day 0
    last_end_ms: int  # end of the newest row of any camera
    segment_bytes: int
    segment_duration_ms: int
    keyframes: int
    video_codec: str
    copies: int
    index_bytes: int
    build_s: dict[str, float]

    def day_start(self, day: int) -> int:
        return self.first_ms + day * DAY_MS

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def camera_ids(count: int) -> tuple[str, ...]:
    return tuple(f"cam{i + 1:02d}" for i in range(count))


def ensure_store(root: Path, cameras: int = 10, days: int = 30) -> tuple[Path, StoreFacts]:
    """The cached data dir for these parameters, built first if missing or incomplete."""
    data_dir = root / f"{VERSION}-{cameras}x{days}d"
    manifest = data_dir / "store.json"
    if manifest.is_file():
        raw = json.loads(manifest.read_text(encoding="utf-8"))
        raw["cameras"] = tuple(raw["cameras"])
        return data_dir, StoreFacts(**raw)
    partial = data_dir.with_name(data_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    facts = _build(partial, camera_ids(cameras), days)
    (partial / "store.json").write_text(json.dumps(facts.to_json(), indent=1), encoding="utf-8")
    partial.rename(data_dir)
    return data_dir, facts


def _build(data_dir: Path, cameras: tuple[str, ...], days: int) -> StoreFacts:
    source = data_dir / SOURCE_DIR
    source.mkdir(parents=True)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    clip = source / "clip.mkv"
    make_clip(clip, CLIP_SECONDS)
    timings["clip_s"] = time.perf_counter() - began

    began = time.perf_counter()
    segment = record_segment(clip, source / "capture")
    timings["record_s"] = time.perf_counter() - began

    rows = len(cameras) * days * SLOTS_PER_DAY
    copies = -(-rows // LINKS_PER_COPY)
    original = source / "capture" / segment.path
    for n in range(copies):
        shutil.copyfile(original, source / f"segment-{n:03d}.mp4")

    began = time.perf_counter()
    asyncio.run(_create_schema(data_dir / INDEX_FILE, cameras))
    first_ms = (int(time.time() * 1000) // DAY_MS - days) * DAY_MS
    last_end = _insert_rows(data_dir, cameras, days, first_ms, segment, copies)
    timings["rows_and_links_s"] = time.perf_counter() - began
    return StoreFacts(
        version=VERSION,
        cameras=cameras,
        days=days,
        rows=rows,
        first_ms=first_ms,
        last_end_ms=last_end,
        segment_bytes=segment.bytes,
        segment_duration_ms=segment.duration_ms,
        keyframes=len(segment.keyframes),
        video_codec=segment.video_codec,
        copies=copies,
        index_bytes=index_bytes(data_dir),
        build_s={k: round(v, 1) for k, v in timings.items()},
    )


def make_clip(out: Path, seconds: int) -> None:
    """720p, 15 fps, 1 s GOP, no B-frames, 2 Mbit/s: what the simulated cameras send."""
    args = FFMPEG_CLIP.format(seconds=seconds).split()
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *args, str(out)], check=True, capture_output=True
    )


def record_segment(clip: Path, data_dir: Path) -> NewSegment:
    """Record the clip with the real capture code; return its full 10 s segment."""
    clock = FakeClock()
    found: list[NewSegment] = []
    session = CaptureSession(
        "source",
        "replay://",
        ReplayOpener(clip, clock),
        SegmentLayout(data_dir),
        SessionSettings(segment_seconds=SEGMENT_MS / 1000),
        HealthBoard(),
        clock,
        found.append,
    )
    with contextlib.suppress(StreamError):  # the end of the clip
        session.run()
    full = [s for s in found if s.duration_ms == SEGMENT_MS]
    if not full:
        raise RuntimeError(f"no 10 s segment recorded: {[s.duration_ms for s in found]}")
    return full[0]


async def _create_schema(path: Path, cameras: tuple[str, ...]) -> None:
    async with SqliteSegmentIndex(path) as index:
        for camera in cameras:
            await index.ensure_camera(camera)


def _slots(camera: int, days: int) -> Iterator[tuple[int, int]]:
    """(slot number since day 0, run number) of one camera's rows, skipping its daily gap."""
    wanted = days * SLOTS_PER_DAY
    slot = run = made = 0
    while made < wanted:
        day, in_day = divmod(slot, SLOTS_PER_DAY)
        gap = 60 + (camera * 977 + day * 131) % (SLOTS_PER_DAY - 120)
        if in_day == gap:
            slot += GAP_SLOTS
            run += 1
            continue
        yield slot, run
        slot += 1
        made += 1


def _camera_rows(camera: int, days: int) -> Iterator[tuple[int, int, int]]:
    for slot, run in _slots(camera, days):
        yield slot, camera, run


def _insert_rows(
    data_dir: Path,
    cameras: tuple[str, ...],
    days: int,
    first_ms: int,
    segment: NewSegment,
    copies: int,
) -> int:
    layout = SegmentLayout(data_dir)
    sources = [str(data_dir / SOURCE_DIR / f"segment-{n:03d}.mp4") for n in range(copies)]
    blob = pack_keyframes(segment.keyframes)
    run_starts: dict[tuple[int, int], int] = {}
    # Time order across cameras, as live capture inserts them.
    merged = heapq.merge(*(_camera_rows(c, days) for c in range(len(cameras))))
    conn = sqlite3.connect(data_dir / INDEX_FILE, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # a crash during the build just rebuilds it
    conn.execute("PRAGMA cache_size=-262144")
    last_end = 0
    made_dirs: set[str] = set()
    batch: list[tuple[object, ...]] = []
    for count, (slot, c, run) in enumerate(merged):
        start = first_ms + slot * SEGMENT_MS
        run_start = run_starts.setdefault((c, run), start)
        path = layout.relative_path(cameras[c], start)
        folder = path.rsplit("/", 1)[0]
        if folder not in made_dirs:
            (data_dir / folder).mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        os.link(sources[count // LINKS_PER_COPY], data_dir / path)
        end = start + segment.duration_ms
        last_end = max(last_end, end)
        batch.append(
            (cameras[c], run_start, start, end, segment.bytes, path, segment.init_bytes, blob,
             segment.video_codec, int(segment.has_audio))
        )  # fmt: skip
        if len(batch) >= BATCH:
            _write(conn, batch)
            batch = []
    _write(conn, batch)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return last_end


def _write(conn: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO segments (camera_id, run_start_ms, start_ms, end_ms, bytes, path, "
        "init_bytes, keyframes, video_codec, has_audio) VALUES (?,?,?,?,?,?,?,?,?,?)",
        batch,
    )
    conn.execute("COMMIT")


def index_bytes(data_dir: Path) -> int:
    """The index with its WAL and shared-memory files."""
    return sum(p.stat().st_size for p in data_dir.glob(INDEX_FILE + "*") if p.is_file())


def store_rows(data_dir: Path) -> int:
    conn = sqlite3.connect(f"file:{data_dir / INDEX_FILE}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM segments").fetchone()[0])
    finally:
        conn.close()
