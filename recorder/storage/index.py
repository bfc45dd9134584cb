"""The segment index boundary: what capture, playback, retention and reconciliation may ask.

`SqliteSegmentIndex` (sqlite_index.py) is the real adapter; `MemorySegmentIndex`
(memory_index.py) is the fake for tests of code that only needs the behaviour. Both pass the same
contract tests, so they must agree on every rule written here:

- times are integer ms (UTC); a segment covers [start_ms, end_ms);
- "between" means overlapping; results are ordered by (start_ms, id);
- a protection covers [start_ms, end_ms) and is active at t while expires_ms is None or > t;
- writes that contradict the index raise `IndexConflict`, storage failures `IndexFailure`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from recorder.errors import IndexConflict
from recorder.storage.layout import CAMERA_ID_RE, SegmentLayout
from recorder.storage.model import (
    MAX_SEGMENT_DURATION_MS,
    Camera,
    NewSegment,
    Protection,
    Run,
    Segment,
    StorageUsage,
)

# Segments of one run whose ends meet within this are contiguous. Capture starts the next
# segment exactly where the last ended; reconciled orphans get an end measured from their
# fragments, which may differ by a frame. A real hole (a deleted segment) is seconds long.
CONTIGUITY_TOLERANCE_MS = 250

_LAYOUT = SegmentLayout(Path())  # only for relative paths, which do not depend on data_dir


@dataclass(frozen=True)
class SegmentRef:
    """A segment without its keyframe table: what retention and reconciliation scan in bulk."""

    id: int
    camera_id: str
    run_start_ms: int
    start_ms: int
    end_ms: int
    bytes: int
    path: str


@dataclass(frozen=True)
class GarbageEntry:
    """A file whose row is gone from `segments` and which must still be unlinked."""

    path: str
    camera_id: str
    bytes: int


class SegmentIndex(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date. Idempotent."""

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def ensure_camera(self, camera_id: str, name: str = "") -> Camera:
        """Create the camera if missing (name defaults to the id); rename it if `name` differs."""

    async def cameras(self) -> list[Camera]: ...

    async def add_segment(self, segment: NewSegment) -> Segment:
        """Index a finished, durable file. Its camera must exist; its path must be unique."""

    async def get_segment(self, segment_id: int) -> Segment | None: ...

    async def segments_between(
        self, camera_id: str, start_ms: int, end_ms: int, *, limit: int | None = None
    ) -> list[Segment]:
        """Segments of the camera overlapping [start_ms, end_ms), oldest first."""

    async def segment_at(self, camera_id: str, t_ms: int) -> Segment | None:
        """The segment covering instant t_ms, if any."""

    async def latest_segment(self, camera_id: str) -> Segment | None: ...

    async def runs(self, camera_id: str, start_ms: int, end_ms: int) -> list[Run]:
        """Contiguous stretches of recording overlapping [start_ms, end_ms), clipped to it."""

    async def days_with_segments(
        self, camera_id: str, day_bounds: Sequence[tuple[int, int]]
    ) -> list[bool]:
        """For each [start_ms, end_ms) (local days, for a calendar): does a segment start in
        it? One index seek per day, whatever the number of segments."""

    async def usage(self) -> StorageUsage:
        """Bytes per camera from the index (O(cameras), not O(segments)), plus garbage bytes.
        `newest_ms` is the end of the newest segment."""

    async def oldest_segments(
        self,
        *,
        limit: int,
        camera_id: str | None = None,
        after: tuple[int, int] | None = None,
        ending_by_ms: int | None = None,
        unprotected_at_ms: int | None = None,
        hard_only: bool = False,
    ) -> list[SegmentRef]:
        """Up to `limit` segments in (start_ms, id) order: of one camera or all; strictly after
        the (start_ms, id) key `after` (keyset paging); only those ending at or before
        `ending_by_ms`; only those not overlapping a protection active at `unprotected_at_ms`
        (with `hard_only`, counting only protections that do not yield to space: events' do)."""

    def segment_refs(self, camera_id: str, *, batch: int = 1000) -> AsyncIterator[SegmentRef]:
        """Every segment of the camera, oldest first, fetched `batch` rows at a time."""

    async def add_protection(self, protection: Protection) -> Protection:
        """Store it (its `id` is ignored) and return it with its new id. Durable on return."""

    async def remove_protection(self, protection_id: int) -> bool: ...

    async def protections(
        self, *, camera_id: str | None = None, active_at_ms: int | None = None
    ) -> list[Protection]:
        """Protections ordered by (camera_id, start_ms, id), optionally only those active."""

    async def expire_protections(self, now_ms: int) -> int:
        """Delete protections no longer active at now_ms; return how many."""

    async def mark_garbage(
        self,
        segment_ids: Iterable[int],
        *,
        keep_protected_at_ms: int | None = None,
        hard_only: bool = False,
    ) -> list[GarbageEntry]:
        """In one transaction, move the segments' paths to `garbage` and delete their rows.

        With `keep_protected_at_ms`, segments overlapping a protection active then are kept:
        the last word on protection is said inside the deleting transaction, so a protection
        added after retention planned cannot lose its footage. With `hard_only`, only
        protections that do not yield to space keep theirs. Unknown ids are ignored."""

    async def list_garbage(self, *, limit: int = 1000) -> list[GarbageEntry]: ...

    async def clear_garbage(self, paths: Iterable[str]) -> None:
        """Forget garbage entries whose files are gone."""


def check_camera_id(camera_id: str) -> None:
    if not CAMERA_ID_RE.match(camera_id):
        raise IndexConflict(f"invalid camera id {camera_id!r}")


def check_new_segment(segment: NewSegment) -> None:
    """Reject a segment the index must never hold; both adapters call this first."""
    s = segment
    check_camera_id(s.camera_id)
    if not s.run_start_ms <= s.start_ms <= s.end_ms:
        raise IndexConflict(
            f"{s.path}: need run_start_ms <= start_ms <= end_ms, got "
            f"{s.run_start_ms}, {s.start_ms}, {s.end_ms}"
        )
    if s.end_ms - s.start_ms > MAX_SEGMENT_DURATION_MS:
        raise IndexConflict(f"{s.path}: lasts {s.duration_ms} ms, over {MAX_SEGMENT_DURATION_MS}")
    if not 0 <= s.init_bytes <= s.bytes:
        raise IndexConflict(f"{s.path}: init_bytes {s.init_bytes} outside 0..{s.bytes}")
    # The path is where retention will unlink: it must be exactly the layout's path for this
    # camera and start, never something a bug or a client could point elsewhere.
    expected = _LAYOUT.relative_path(s.camera_id, s.start_ms)
    if s.path != expected:
        raise IndexConflict(f"segment path {s.path!r} is not the layout path {expected!r}")


def check_protection(protection: Protection) -> None:
    check_camera_id(protection.camera_id)
    if protection.start_ms >= protection.end_ms:
        raise IndexConflict(
            f"protection range [{protection.start_ms}, {protection.end_ms}) is empty"
        )


def merge_runs(
    camera_id: str, rows: Iterable[tuple[int, int, int, int]], start_ms: int, end_ms: int
) -> list[Run]:
    """Fold (run_start_ms, start_ms, end_ms, bytes) rows, ordered by start, into runs clipped to
    [start_ms, end_ms). A run breaks where capture restarted or where segments were deleted."""
    runs: list[Run] = []
    current: list[int] | None = None  # run_start, start, end, segments, bytes
    for run_start, seg_start, seg_end, size in rows:
        if (
            current is not None
            and run_start == current[0]
            and seg_start <= current[2] + CONTIGUITY_TOLERANCE_MS
        ):
            current[2] = max(current[2], seg_end)
            current[3] += 1
            current[4] += size
            continue
        if current is not None:
            runs.append(_clip(camera_id, current, start_ms, end_ms))
        current = [run_start, seg_start, seg_end, 1, size]
    if current is not None:
        runs.append(_clip(camera_id, current, start_ms, end_ms))
    return runs


def _clip(camera_id: str, run: list[int], start_ms: int, end_ms: int) -> Run:
    return Run(camera_id, run[0], max(run[1], start_ms), min(run[2], end_ms), run[3], run[4])


def gaps(runs: Iterable[Run], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """The [start, end) stretches of [start_ms, end_ms) that no run covers."""
    out = []
    cursor = start_ms
    for run in sorted(runs, key=lambda r: r.start_ms):
        if run.start_ms > cursor:
            out.append((cursor, run.start_ms))
        cursor = max(cursor, run.end_ms)
    if cursor < end_ms:
        out.append((cursor, end_ms))
    return out
