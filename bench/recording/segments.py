"""What a recording left behind: segment rows in the recorder's index and packets in the files.

The index says whether each camera recorded without a gap (one run, each segment starting where
the previous one ended, covering the measured window); the files say how many packets really
reached the disk, to check the recorder's own `packets_written` counter.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av

from bench.errors import BenchError

INDEX_FILE = "index.sqlite3"  # recorder.site.INDEX_DB, read here without the recorder


@dataclass(frozen=True)
class SegmentRow:
    run_start_ms: int
    start_ms: int
    end_ms: int
    path: str


@dataclass(frozen=True)
class Continuity:
    """One camera's segments as the index holds them."""

    camera_id: str
    segments: int
    runs: int  # distinct runs: 1 when the camera recorded without a gap
    gaps: int  # segments not starting where the previous one ended
    covers_window: bool  # the first segment starts before the window, the last ends after it

    @property
    def sustained(self) -> bool:
        return self.segments > 0 and self.runs == 1 and self.gaps == 0 and self.covers_window


def indexed_segments(data_dir: Path) -> dict[str, list[SegmentRow]]:
    """Each camera's segments, oldest first, read straight from the index file."""
    uri = f"file:{data_dir / INDEX_FILE}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute(
            "SELECT camera_id, run_start_ms, start_ms, end_ms, path FROM segments "
            "ORDER BY camera_id, start_ms, id"
        ).fetchall()
    by_camera: dict[str, list[SegmentRow]] = {}
    for camera_id, *fields in rows:
        by_camera.setdefault(camera_id, []).append(SegmentRow(*fields))
    return by_camera


def continuity(
    camera_id: str, rows: list[SegmentRow], window_ms: tuple[int, int], slack_ms: int = 1000
) -> Continuity:
    """`slack_ms` allows for the last frame before the window's end arriving a little late."""
    gaps = sum(1 for a, b in itertools.pairwise(rows) if b.start_ms != a.end_ms)
    covers = bool(rows) and (
        rows[0].start_ms <= window_ms[0] and rows[-1].end_ms >= window_ms[1] - slack_ms
    )
    return Continuity(
        camera_id=camera_id,
        segments=len(rows),
        runs=len({row.run_start_ms for row in rows}),
        gaps=gaps,
        covers_window=covers,
    )


def packets_in_file(path: Path) -> int:
    """Packets carrying data, over every stream of the file."""
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux() if packet.size > 0)


def packets_in_files(paths: Iterable[Path]) -> int:
    return sum(packets_in_file(path) for path in paths)


def wait_until_writing(
    dirs: dict[str, Path], pattern: str, timeout_s: float, check: Callable[[], None]
) -> float:
    """Wait until every camera's directory holds a file matching `pattern` (its first segment
    is being written, so it has connected and seen a keyframe); returns the seconds waited."""
    started = time.monotonic()
    waiting = dict(dirs)
    while waiting:
        check()
        waiting = {cam: d for cam, d in waiting.items() if not any(d.rglob(pattern))}
        if time.monotonic() - started > timeout_s:
            raise BenchError(f"not writing after {timeout_s:.0f} s: {', '.join(sorted(waiting))}")
        if waiting:
            time.sleep(0.2)
    return time.monotonic() - started
