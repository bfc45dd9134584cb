"""Start-up reconciliation of disk and index: scan, plan (reconcile_plan.py), execute.

Run it before any capture worker starts: it deletes `.partial` files, which are only leftovers
when nobody is writing. Memory stays bounded on a 2.6 M-segment store: each camera's files are
listed one day directory at a time and merged, in start order, with its index rows streamed in
keyset pages; findings are planned and executed in chunks.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import assert_never

from recorder.errors import IndexConflict, SegmentError, StorageUnavailable
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.garbage import GarbageCollector, remove_empty_dirs
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.layout import CAMERA_ID_RE, SEGMENT_SUFFIX, TEMP_SUFFIX, SegmentLayout
from recorder.storage.moving import move_file
from recorder.storage.reconcile_plan import (
    CameraFindings,
    DeleteQuarantined,
    DiscardPartial,
    DropMissingRows,
    EnsureCamera,
    IndexOrphan,
    Orphan,
    PruneEmptyDirs,
    Quarantine,
    ReconcileAction,
    RunTail,
    plan_quarantine_prune,
    plan_reconcile,
)

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
QUARANTINE_DIR = "quarantine"  # under the data directory, outside recordings/: never indexed


@dataclass(frozen=True)
class ReconcileSummary:
    indexed: int = 0
    dropped_rows: int = 0
    discarded_partials: int = 0
    quarantined: int = 0
    garbage_finished: int = 0
    removed_dirs: int = 0
    ignored_files: int = 0
    failed: int = 0

    def __add__(self, other: ReconcileSummary) -> ReconcileSummary:
        return ReconcileSummary(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    def __str__(self) -> str:
        parts = [
            _count(self.indexed, "indexed {} orphan segment{}"),
            _count(self.dropped_rows, "dropped {} missing row{}"),
            _count(self.discarded_partials, "discarded {} partial file{}"),
            _count(self.quarantined, "quarantined {} damaged file{}"),
            _count(self.garbage_finished, "finished {} pending deletion{}"),
            _count(self.removed_dirs, "removed {} empty director{}", plural=("y", "ies")),
            _count(self.ignored_files, "ignored {} unknown file{}"),
            _count(self.failed, "failed {} action{}"),
        ]
        done = [p for p in parts if p]
        return "reconciled: " + (", ".join(done) if done else "disk and index agree")


def _count(n: int, template: str, plural: tuple[str, str] = ("", "s")) -> str:
    return template.format(n, plural[n != 1]) if n else ""


@dataclass(frozen=True)
class _Listing:
    segments: list[tuple[int, str]]  # (start_ms, relative path), ordered by start
    partials: list[str]
    ignored: int


class Reconciler:
    def __init__(
        self,
        index: SegmentIndex,
        layout: SegmentLayout,
        *,
        quarantine_keep: int = 20,
        chunk: int = 500,
        rows_per_page: int = 5000,
    ) -> None:
        self._index = index
        self._layout = layout
        self._quarantine = layout.data_dir / QUARANTINE_DIR
        self._keep = quarantine_keep
        self._chunk = chunk
        self._rows_per_page = rows_per_page
        self._collector = GarbageCollector(index, layout)

    async def run(self) -> ReconcileSummary:
        """Reconcile; raises `StorageUnavailable` rather than drop every row when the whole
        recordings tree is missing (a disk that did not mount must not empty the index)."""
        usage = await self._index.usage()
        indexed_segments = sum(c.segments for c in usage.per_camera)
        if indexed_segments and not await asyncio.to_thread(self._layout.root.is_dir):
            raise StorageUnavailable(
                f"{self._layout.root} is missing but the index lists {indexed_segments} "
                "segments: is the recordings disk mounted?"
            )
        garbage = await self._collector.finish_pending()
        summary = ReconcileSummary(
            garbage_finished=garbage.unlinked + garbage.already_gone,
            removed_dirs=garbage.removed_dirs,
        )
        # Entries still pending failed to unlink: their files are not orphans.
        pending = {g.path for g in await self._index.list_garbage(limit=1_000_000)}
        indexed = {c.id for c in await self._index.cameras()}
        on_disk = await asyncio.to_thread(self._camera_dirs)
        for camera_id in sorted(indexed | on_disk):
            tail: RunTail | None = None
            async for findings, ignored in self._scan(camera_id, camera_id in indexed, pending):
                plan = plan_reconcile(findings, tail)
                tail = plan.tail
                summary += await self._execute(plan.actions)
                summary += ReconcileSummary(ignored_files=ignored)
        names = await asyncio.to_thread(self._quarantined)
        summary += await self._execute(plan_quarantine_prune(names, self._keep))
        log.info("%s", summary)
        return summary

    # -- scan ------------------------------------------------------------------------------

    async def _scan(
        self, camera_id: str, camera_indexed: bool, pending: set[str]
    ) -> AsyncIterator[tuple[CameraFindings, int]]:
        rows = _Rows(self._index, camera_id, self._rows_per_page)
        present: SegmentRef | None = None  # newest indexed row whose file exists
        orphans: list[Orphan] = []
        suspects: list[SegmentRef] = []
        partials: list[str] = []
        days, ignored = await asyncio.to_thread(self._day_dirs, camera_id)
        for day in days:
            listing = await asyncio.to_thread(self._list_day, camera_id, day)
            partials += listing.partials
            ignored += listing.ignored
            await rows.load_until(_day_end_ms(day))
            # Merge the day's files with its rows, both in (start, path) order; no await per
            # file: a day holds thousands of them.
            found: list[tuple[str, int, SegmentRef | None]] = []
            for start_ms, path in listing.segments:
                key = (start_ms, path)
                while (ref := rows.head()) is not None and (ref.start_ms, ref.path) < key:
                    suspects.append(ref)
                    rows.pop()
                if ref is not None and ref.path == path:
                    present = ref
                    rows.pop()
                elif path not in pending:
                    found.append((path, start_ms, present))
            for path, start_ms, previous in found:
                orphans.append(await self._inspect(path, start_ms, previous))
            if len(orphans) + len(suspects) >= self._chunk:
                missing = await self._confirm_missing(suspects)
                yield (
                    self._findings(camera_id, camera_indexed, orphans, missing, partials, False),
                    ignored,
                )
                camera_indexed = camera_indexed or bool(orphans)
                orphans, suspects, partials, ignored = [], [], [], 0
        while True:  # rows after the last file (or of a camera with no directory)
            await rows.load_until(None)
            ref = rows.head()
            if ref is None:
                break
            suspects.append(ref)
            rows.pop()
            if len(suspects) >= self._chunk and rows.head() is not None:
                missing = await self._confirm_missing(suspects)
                yield self._findings(camera_id, camera_indexed, [], missing, [], False), 0
                suspects = []
        missing = await self._confirm_missing(suspects)
        yield self._findings(camera_id, camera_indexed, orphans, missing, partials, True), ignored

    @staticmethod
    def _findings(
        camera_id: str,
        camera_indexed: bool,
        orphans: list[Orphan],
        missing: list[SegmentRef],
        partials: list[str],
        last: bool,
    ) -> CameraFindings:
        return CameraFindings(
            camera_id, camera_indexed, tuple(orphans), tuple(missing), tuple(partials), last
        )

    async def _inspect(self, path: str, start_ms: int, previous: SegmentRef | None) -> Orphan:
        try:
            info = await asyncio.to_thread(inspect_fmp4, self._layout.absolute(path))
        except SegmentError as exc:
            return Orphan(path, start_ms, None, str(exc), previous)
        return Orphan(path, start_ms, info, "", previous)

    async def _confirm_missing(self, suspects: list[SegmentRef]) -> list[SegmentRef]:
        # A row is dropped only if its file is really absent: a row whose path the walk did
        # not reach (one not following the layout) must not lose a file that exists.
        def gone() -> list[SegmentRef]:
            return [r for r in suspects if not self._layout.absolute(r.path).exists()]

        return await asyncio.to_thread(gone) if suspects else []

    def _camera_dirs(self) -> set[str]:
        root = self._layout.root
        if not root.is_dir():
            return set()
        return {p.name for p in root.iterdir() if p.is_dir() and CAMERA_ID_RE.match(p.name)}

    def _day_dirs(self, camera_id: str) -> tuple[list[str], int]:
        """The camera's day directories in time order, and how many other entries it holds."""
        camera_dir = self._layout.camera_dir(camera_id)
        if not camera_dir.is_dir():
            return [], 0
        entries = list(camera_dir.iterdir())
        days = sorted(p.name for p in entries if p.is_dir() and _is_day(p.name))
        return days, len(entries) - len(days)

    def _list_day(self, camera_id: str, day: str) -> _Listing:
        segments: list[tuple[int, str]] = []
        partials: list[str] = []
        ignored = 0
        day_dir = self._layout.camera_dir(camera_id) / day
        day_start_ms = _day_end_ms(day) - DAY_MS
        for hour in sorted(os.scandir(day_dir), key=lambda e: e.name):
            hour_name = hour.name
            if not (len(hour_name) == 2 and hour_name.isdigit() and hour_name <= "23"):
                ignored += 1
                continue
            if not hour.is_dir():
                ignored += 1
                continue
            # What `SegmentLayout.relative_path` puts in this directory: a canonical start
            # time within the hour (checked by bounds, not by rebuilding every path).
            low = day_start_ms + int(hour_name) * HOUR_MS
            high = low + HOUR_MS
            prefix = f"recordings/{camera_id}/{day}/{hour_name}/"
            for entry in os.scandir(hour.path):
                name = entry.name
                stem = name.removesuffix(TEMP_SUFFIX).removesuffix(SEGMENT_SUFFIX)
                if not (stem.isdigit() and entry.is_file(follow_symlinks=False)):
                    ignored += 1
                elif name.endswith(TEMP_SUFFIX):
                    partials.append(prefix + name)
                elif (
                    name.endswith(SEGMENT_SUFFIX)
                    and low <= (start_ms := int(stem)) < high
                    and stem[0] != "0"
                ):
                    segments.append((start_ms, prefix + name))
                else:
                    ignored += 1  # a segment name in the wrong directory: not ours to judge
        segments.sort()
        return _Listing(segments, partials, ignored)

    def _quarantined(self) -> list[str]:
        if not self._quarantine.is_dir():
            return []
        return [
            str(p.relative_to(self._quarantine)) for p in self._quarantine.rglob("*") if p.is_file()
        ]

    # -- execute ---------------------------------------------------------------------------

    async def _execute(self, actions: tuple[ReconcileAction, ...]) -> ReconcileSummary:
        summary = ReconcileSummary()
        for action in actions:
            try:
                summary += await self._apply(action)
            except (IndexConflict, OSError) as exc:
                log.warning("reconcile: %s failed: %s", action, exc)
                summary += ReconcileSummary(failed=1)
        return summary

    async def _apply(self, action: ReconcileAction) -> ReconcileSummary:
        if isinstance(action, EnsureCamera):
            await self._index.ensure_camera(action.camera_id)
            return ReconcileSummary()
        if isinstance(action, IndexOrphan):
            await self._index.add_segment(action.segment)
            log.info("reconcile: indexed orphan %s", action.segment.path)
            return ReconcileSummary(indexed=1)
        if isinstance(action, DropMissingRows):
            entries = await self._index.mark_garbage(action.segment_ids)
            await self._collector.collect(entries)
            log.warning("reconcile: dropped %d rows whose files are gone", len(entries))
            return ReconcileSummary(dropped_rows=len(entries))
        if isinstance(action, DiscardPartial):
            await asyncio.to_thread(self._layout.absolute(action.path).unlink, missing_ok=True)
            return ReconcileSummary(discarded_partials=1)
        if isinstance(action, Quarantine):
            await asyncio.to_thread(self._move_to_quarantine, action.path)
            log.warning("reconcile: quarantined %s: %s", action.path, action.reason)
            return ReconcileSummary(quarantined=1)
        if isinstance(action, PruneEmptyDirs):
            removed = await asyncio.to_thread(self._prune, action.camera_id)
            return ReconcileSummary(removed_dirs=removed)
        if isinstance(action, DeleteQuarantined):
            await asyncio.to_thread((self._quarantine / action.path).unlink, missing_ok=True)
            return ReconcileSummary()
        assert_never(action)

    def _move_to_quarantine(self, relative: str) -> None:
        source = self._layout.absolute(relative)
        parts = Path(relative).parts  # recordings/<camera>/<day>/<hour>/<name>
        target = self._quarantine / parts[1] / parts[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        move_file(source, target)  # the recordings may be on another disk than the data dir

    def _prune(self, camera_id: str) -> int:
        camera_dir = self._layout.camera_dir(camera_id)
        if not camera_dir.is_dir():
            return 0
        removed = 0
        for day_dir in sorted(camera_dir.iterdir()):
            if not (day_dir.is_dir() and _is_day(day_dir.name)):
                continue
            for hour_dir in sorted(day_dir.iterdir()):
                if hour_dir.is_dir():
                    removed += remove_empty_dirs(hour_dir, stop_at=camera_dir)
            if day_dir.is_dir():
                removed += remove_empty_dirs(day_dir, stop_at=camera_dir)
        return removed


class _Rows:
    """A camera's index rows in (start, id) order, fetched in keyset pages as the walk needs
    them, so the merge can run without an await per row."""

    def __init__(self, index: SegmentIndex, camera_id: str, batch: int = 5000) -> None:
        self._index = index
        self._camera_id = camera_id
        self._batch = batch
        self._rows: deque[SegmentRef] = deque()
        self._after: tuple[int, int] | None = None
        self._done = False

    async def load_until(self, end_ms: int | None) -> None:
        """Hold every row starting before `end_ms` (None: at least one more row, if any)."""
        while not self._done and (
            not self._rows or end_ms is None or self._rows[-1].start_ms < end_ms
        ):
            if end_ms is None and self._rows:
                return
            page = await self._index.oldest_segments(
                limit=self._batch, camera_id=self._camera_id, after=self._after
            )
            self._rows.extend(page)
            if len(page) < self._batch:
                self._done = True
            else:
                self._after = (page[-1].start_ms, page[-1].id)

    def head(self) -> SegmentRef | None:
        return self._rows[0] if self._rows else None

    def pop(self) -> None:
        self._rows.popleft()


def _day_end_ms(day: str) -> int:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return round(start.timestamp() * 1000) + DAY_MS


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    return True
