"""Carrying out reconciliation's plan (reconcile_plan.py): one action at a time, each failure
logged and counted, never fatal (the next start tries again)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import assert_never

from recorder.errors import IndexConflict
from recorder.storage.durable import fsync_dir
from recorder.storage.garbage import GarbageCollector, remove_empty_dirs
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.moving import move_file
from recorder.storage.reconcile_listing import DAY_MS, HOUR_MS, day_end_ms, is_day, is_hour
from recorder.storage.reconcile_plan import (
    DeleteQuarantined,
    DiscardPartial,
    DropMissingRows,
    EnsureCamera,
    IndexOrphan,
    PruneEmptyDirs,
    Quarantine,
    ReconcileAction,
    RecoverPartial,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileSummary:
    indexed: int = 0
    recovered_partials: int = 0
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
        return self.describe("reconciled")

    def describe(self, what: str) -> str:
        parts = [
            _count(self.indexed, "indexed {} orphan segment{}"),
            _count(self.recovered_partials, "recovered {} partial segment{}"),
            _count(self.dropped_rows, "dropped {} missing row{}"),
            _count(self.discarded_partials, "discarded {} partial file{}"),
            _count(self.quarantined, "quarantined {} damaged file{}"),
            _count(self.garbage_finished, "finished {} pending deletion{}"),
            _count(self.removed_dirs, "removed {} empty director{}", plural=("y", "ies")),
            _count(self.ignored_files, "ignored {} unknown file{}"),
            _count(self.failed, "failed {} action{}"),
        ]
        done = [p for p in parts if p]
        return f"{what}: " + (", ".join(done) if done else "disk and index agree")


def _count(n: int, template: str, plural: tuple[str, str] = ("", "s")) -> str:
    return template.format(n, plural[n != 1]) if n else ""


class ReconcileExecutor:
    """Applies planned actions. With `before_ms`, capture is running: an orphan is checked
    once more before it is indexed, and only directories of hours well before it are pruned."""

    def __init__(
        self,
        index: SegmentIndex,
        layout: SegmentLayout,
        quarantine: Path,
        collector: GarbageCollector,
        before_ms: int | None = None,
    ) -> None:
        self._index = index
        self._layout = layout
        self._quarantine = quarantine
        self._collector = collector
        self._before_ms = before_ms

    async def execute(self, actions: tuple[ReconcileAction, ...]) -> ReconcileSummary:
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
            if self._before_ms is not None and not await self._still_orphan(action.segment.path):
                return ReconcileSummary()
            await self._index.add_segment(action.segment)
            log.info("reconcile: indexed orphan %s", action.segment.path)
            return ReconcileSummary(indexed=1)
        if isinstance(action, DropMissingRows):
            entries = await self._index.mark_garbage(action.segment_ids)
            await self._collector.collect(entries)
            log.warning("reconcile: dropped %d rows whose files are gone", len(entries))
            return ReconcileSummary(dropped_rows=len(entries))
        if isinstance(action, RecoverPartial):
            recovered = await asyncio.to_thread(self._make_durable, action)
            if not recovered:
                return ReconcileSummary(discarded_partials=1)
            await self._index.add_segment(action.segment)
            log.info(
                "reconcile: recovered %s: %d ms in %d complete fragments",
                action.segment.path,
                action.segment.end_ms - action.segment.start_ms,
                len(action.segment.keyframes),
            )
            return ReconcileSummary(recovered_partials=1)
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

    async def _still_orphan(self, path: str) -> bool:
        """While retention runs beside the walk, a file listed before its row was marked as
        garbage looks like an orphan: it is being deleted, not lost. Checked in this order
        (garbage, then the file) it cannot be indexed after its deletion is done."""
        pending = {g.path for g in await self._index.list_garbage(limit=1_000_000)}
        return path not in pending and await asyncio.to_thread(self._layout.absolute(path).exists)

    def _make_durable(self, action: RecoverPartial) -> bool:
        """Cut the partial file after its last complete fragment and give it its final name,
        in capture's order: fsync the file, rename, fsync the directory (then the caller
        indexes it). False if a final file already has that name: the partial is deleted."""
        source = self._layout.absolute(action.partial)
        final = self._layout.absolute(action.segment.path)
        if final.exists():
            log.warning("reconcile: %s exists; deleting %s", final, source)
            source.unlink(missing_ok=True)
            return False
        fd = os.open(source, os.O_WRONLY)
        try:
            os.ftruncate(fd, action.keep_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)
        source.rename(final)
        fsync_dir(final.parent)
        return True

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
        # While capture runs, only directories of hours that ended an hour before it started:
        # capture may be creating the current hour's (as retention does, garbage.py).
        limit = self._before_ms - HOUR_MS if self._before_ms is not None else None
        removed = 0
        for day_dir in sorted(camera_dir.iterdir()):
            if not (day_dir.is_dir() and is_day(day_dir.name)):
                continue
            day_start_ms = day_end_ms(day_dir.name) - DAY_MS
            for hour_dir in sorted(day_dir.iterdir()):
                if limit is not None and not (
                    is_hour(hour_dir.name)
                    and day_start_ms + (int(hour_dir.name) + 1) * HOUR_MS <= limit
                ):
                    continue
                if hour_dir.is_dir():
                    removed += remove_empty_dirs(hour_dir, stop_at=camera_dir)
            if day_dir.is_dir() and (limit is None or day_start_ms + DAY_MS <= limit):
                removed += remove_empty_dirs(day_dir, stop_at=camera_dir)
        return removed
