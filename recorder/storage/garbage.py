"""Finish deletions recorded in the index's `garbage` table (Moonfire's scheme).

Deleting is two-phase. `SegmentIndex.mark_garbage` moves paths to `garbage` and drops their rows
in one transaction, so from then on nothing can find those segments. Then, here: unlink the
files, fsync their directories, and only then clear the garbage rows. The fsync comes first
because an unlink that is not durable can be undone by a power cut; if its garbage row were
already gone, the file would come back as an orphan that reconciliation re-indexes, resurrecting
a deleted segment. A crash anywhere leaves garbage rows, which the next run (or start-up)
finishes: unlinking is idempotent.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from recorder.site import RECORDINGS_DIR
from recorder.storage.durable import fsync_dir
from recorder.storage.index import GarbageEntry, SegmentIndex
from recorder.storage.layout import SegmentLayout

log = logging.getLogger(__name__)

_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class GarbageReport:
    unlinked: int = 0  # files we removed
    already_gone: int = 0  # entries whose file was missing (a crash after unlink, or a lost row)
    failed: int = 0  # files still there; their entries stay for the next attempt
    freed_bytes: int = 0  # bytes of entries cleared (unlinked or already gone)
    removed_dirs: int = 0

    def __add__(self, other: GarbageReport) -> GarbageReport:
        return GarbageReport(
            self.unlinked + other.unlinked,
            self.already_gone + other.already_gone,
            self.failed + other.failed,
            self.freed_bytes + other.freed_bytes,
            self.removed_dirs + other.removed_dirs,
        )


@dataclass(frozen=True)
class _Unlinked:
    cleared: list[str]
    unlinked: int
    already_gone: int
    failed: int
    freed_bytes: int
    dirs: set[Path]


class GarbageCollector:
    def __init__(self, index: SegmentIndex, layout: SegmentLayout) -> None:
        self._index = index
        self._layout = layout

    async def collect(
        self, entries: Sequence[GarbageEntry], *, prune_dirs_before_ms: int | None = None
    ) -> GarbageReport:
        """Unlink the entries' files, fsync, clear the entries, then remove directories left
        empty. Only hour directories whose hour ended before `prune_dirs_before_ms` are removed
        (None: any), so we never race capture creating the directory of the current hour."""
        if not entries:
            return GarbageReport()
        done = await asyncio.to_thread(self._unlink_all, entries)
        if done.cleared:
            await self._index.clear_garbage(done.cleared)
        removed = await asyncio.to_thread(self._prune, done.dirs, prune_dirs_before_ms)
        return GarbageReport(
            done.unlinked, done.already_gone, done.failed, done.freed_bytes, removed
        )

    async def finish_pending(
        self, *, prune_dirs_before_ms: int | None = None, batch: int = 1000
    ) -> GarbageReport:
        """Collect every entry left by an earlier crash or failed unlink."""
        report = GarbageReport()
        while True:
            entries = await self._index.list_garbage(limit=batch)
            step = await self.collect(entries, prune_dirs_before_ms=prune_dirs_before_ms)
            report += step
            # Stop when a whole page failed: those entries would come back forever.
            if len(entries) < batch or step.failed == len(entries):
                return report

    def _unlink_all(self, entries: Sequence[GarbageEntry]) -> _Unlinked:
        cleared: list[str] = []
        unlinked = gone = failed = freed = 0
        dirs: set[Path] = set()
        for entry in entries:
            target = self._safe_path(entry.path)
            if target is None:
                log.error("garbage entry %r is outside the recordings tree; not deleting it", entry)
                cleared.append(entry.path)
                continue
            try:
                target.unlink()
                unlinked += 1
                dirs.add(target.parent)
            except FileNotFoundError:
                gone += 1
            except OSError as exc:
                failed += 1
                log.warning("cannot delete %s (will retry): %s", target, exc)
                continue
            cleared.append(entry.path)
            freed += entry.bytes
        synced: set[Path] = set()
        for directory in dirs:
            try:
                fsync_dir(directory)
                synced.add(directory)
            except OSError as exc:
                log.warning("cannot fsync %s: %s", directory, exc)
        if synced != dirs:
            # Keep the rows of files whose unlink may not be durable; the retry finds them gone.
            cleared = [p for p in cleared if self._layout.absolute(p).parent not in dirs - synced]
        return _Unlinked(cleared, unlinked, gone, failed, freed, dirs)

    def _safe_path(self, relative: str) -> Path | None:
        pure = PurePosixPath(relative)
        if pure.is_absolute() or len(pure.parts) < 3 or pure.parts[0] != RECORDINGS_DIR:
            return None
        if ".." in pure.parts:
            return None
        return self._layout.absolute(relative)

    def _prune(self, dirs: set[Path], before_ms: int | None) -> int:
        removed = 0
        for hour_dir in sorted(dirs):
            hour_start = _hour_dir_start_ms(hour_dir)
            if before_ms is not None and (hour_start is None or hour_start + _HOUR_MS > before_ms):
                continue
            # Camera directories stay: capture may be creating its day/hour chain right now.
            removed += remove_empty_dirs(hour_dir, stop_at=hour_dir.parent.parent)
        return removed


def remove_empty_dirs(directory: Path, *, stop_at: Path) -> int:
    """rmdir `directory` and then its parents while they are empty, never `stop_at` or above."""
    removed = 0
    current = directory
    while current != stop_at and stop_at in current.parents:
        try:
            current.rmdir()
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                break
            log.warning("cannot remove directory %s: %s", current, exc)
            break
        removed += 1
        current = current.parent
    return removed


def _hour_dir_start_ms(hour_dir: Path) -> int | None:
    try:
        day = datetime.strptime(hour_dir.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
        return int(day.timestamp() * 1000) + int(hour_dir.name) * _HOUR_MS
    except ValueError:
        return None
