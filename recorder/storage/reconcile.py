"""Start-up reconciliation of disk and index: scan, plan (reconcile_plan.py), execute.

In two steps, so that a start on a full store records from the first second:

- `recover_tail()`, before capture starts: what a crash left at the end of each camera's
  recordings (the segment in flight as a `.partial`, segments renamed but not yet indexed) is
  recovered, so the index is whole up to the crash. It reads a few directories per camera.
- `run(before_ms=...)`, while capture runs: the full walk, which finds whatever else is off
  (rows without files, files without rows, damaged files anywhere) but leaves alone what starts
  at or after `before_ms`: that is capture's, and its `.partial` files are being written.

Memory stays bounded on a 2.6 M-segment store: each camera's files are listed one day directory
at a time and merged, in start order, with its index rows streamed in keyset pages; findings are
planned and executed in chunks.
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
from recorder.storage.durable import fsync_dir
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.garbage import GarbageCollector, remove_empty_dirs
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.layout import CAMERA_ID_RE, SEGMENT_SUFFIX, TEMP_SUFFIX, SegmentLayout
from recorder.storage.model import Segment
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
    RecoverPartial,
    RunTail,
    plan_quarantine_prune,
    plan_reconcile,
)

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
QUARANTINE_DIR = "quarantine"  # under the data directory, outside recordings/: never indexed
# The tail walk reads at most this many hour directories per camera, newest first: a crash
# leaves its files in the last one or two. More (an index lost with its tail) is left to the
# full walk, which runs while capture does.
TAIL_HOURS = 48


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


@dataclass(frozen=True)
class _Listing:
    segments: list[tuple[int, str]]  # (start_ms, relative path), ordered by start
    partials: list[tuple[int, str]]  # start_ms -1: not where the layout would put it
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
        self._before_ms: int | None = None  # set by `run`: capture's files start from here
        self._stop: asyncio.Event | None = None

    async def check_storage(self) -> None:
        """Raise `StorageUnavailable` rather than drop every row when the whole recordings
        tree is missing (a disk that did not mount must not empty the index, and capture must
        not start writing where the disk should be)."""
        usage = await self._index.usage()
        indexed_segments = sum(c.segments for c in usage.per_camera)
        if indexed_segments and not await asyncio.to_thread(self._layout.root.is_dir):
            raise StorageUnavailable(
                f"{self._layout.root} is missing but the index lists {indexed_segments} "
                "segments: is the recordings disk mounted?"
            )

    async def recover_tail(self) -> ReconcileSummary:
        """Before capture starts: check the storage, then index what a crash left after each
        camera's newest row (segments renamed but not indexed, the `.partial` in flight).
        Reads the newest hour directories only, so it costs the same on any store size."""
        await self.check_storage()
        summary = ReconcileSummary()
        indexed = {c.id for c in await self._index.cameras()}
        on_disk = await asyncio.to_thread(self._camera_dirs)
        for camera_id in sorted(indexed | on_disk):
            latest = await self._index.latest_segment(camera_id) if camera_id in indexed else None
            listing = await asyncio.to_thread(self._list_tail, camera_id, latest)
            previous = _ref(latest) if latest is not None else None
            orphans = [await self._inspect(p, start, previous) for start, p in listing.segments]
            partials = [
                await self._inspect_partial(p, start, previous) for start, p in listing.partials
            ]
            findings = CameraFindings(
                camera_id, camera_id in indexed, tuple(orphans), (), tuple(partials), False
            )
            summary += await self._execute(plan_reconcile(findings).actions)
        log.info("%s", summary.describe("recovered the tail"))
        return summary

    async def run(
        self, *, before_ms: int | None = None, stop: asyncio.Event | None = None
    ) -> ReconcileSummary:
        """The full walk. With `before_ms`, capture is running: files and rows starting at or
        after it are capture's and left alone. Ends early, between chunks, once `stop` is set
        (what is done stays done; the next start walks again)."""
        self._before_ms = before_ms
        self._stop = stop
        await self.check_storage()
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
            if stop is not None and stop.is_set():
                log.info("%s (stopped before the end)", summary)
                return summary
        names = await asyncio.to_thread(self._quarantined)
        summary += await self._execute(plan_quarantine_prune(names, self._keep))
        log.info("%s", summary)
        return summary

    # -- scan ------------------------------------------------------------------------------

    async def _scan(
        self, camera_id: str, camera_indexed: bool, pending: set[str]
    ) -> AsyncIterator[tuple[CameraFindings, int]]:
        rows = _Rows(self._index, camera_id, self._rows_per_page, self._before_ms)
        present: SegmentRef | None = None  # newest indexed row whose file exists
        orphans: list[Orphan] = []
        suspects: list[SegmentRef] = []
        partials: list[Orphan] = []
        days, ignored = await asyncio.to_thread(self._day_dirs, camera_id)
        for day in days:
            if self._stop is not None and self._stop.is_set():
                return  # what this camera's walk found so far is dropped: the next start redoes it
            if self._before_ms is not None and _day_end_ms(day) - DAY_MS >= self._before_ms:
                break  # capture's
            listing = await asyncio.to_thread(self._list_day, camera_id, day)
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
            for start_ms, path in listing.partials:
                partials.append(await self._inspect_partial(path, start_ms, present))
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
        partials: list[Orphan],
        last: bool,
    ) -> CameraFindings:
        return CameraFindings(
            camera_id, camera_indexed, tuple(orphans), tuple(missing), tuple(partials), last
        )

    async def _inspect_partial(
        self, path: str, start_ms: int, previous: SegmentRef | None
    ) -> Orphan:
        if start_ms < 0:
            return Orphan(path, start_ms, None, "not where the layout puts it", previous)
        return await self._inspect(path, start_ms, previous)

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
        partials: list[tuple[int, str]] = []
        ignored = 0
        before = self._before_ms if self._before_ms is not None else 2**63
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
                    continue
                start_ms = int(stem)
                placed = low <= start_ms < high and stem[0] != "0"
                if start_ms >= before:
                    continue  # capture's: being written, or about to be indexed
                if name.endswith(TEMP_SUFFIX):
                    partials.append((start_ms if placed else -1, prefix + name))
                elif name.endswith(SEGMENT_SUFFIX) and placed:
                    segments.append((start_ms, prefix + name))
                else:
                    ignored += 1  # a segment name in the wrong directory: not ours to judge
        segments.sort()
        return _Listing(segments, partials, ignored)

    def _list_tail(self, camera_id: str, latest: Segment | None) -> _Listing:
        """The camera's files after its newest row (all of them when it has none), from its
        newest `TAIL_HOURS` hour directories: what a crash left unindexed."""
        after = latest.start_ms if latest is not None else -1
        segments: list[tuple[int, str]] = []
        partials: list[tuple[int, str]] = []
        hours = 0
        days, _ = self._day_dirs(camera_id)
        for day in reversed(days):
            day_dir = self._layout.camera_dir(camera_id) / day
            day_start_ms = _day_end_ms(day) - DAY_MS
            names = sorted(
                (e.name for e in os.scandir(day_dir) if e.is_dir() and _is_hour(e.name)),
                reverse=True,
            )
            for hour_name in names:
                low = day_start_ms + int(hour_name) * HOUR_MS
                if low + HOUR_MS <= after or hours >= TAIL_HOURS:
                    return _Listing(sorted(segments), sorted(partials), 0)
                hours += 1
                prefix = f"recordings/{camera_id}/{day}/{hour_name}/"
                for entry in os.scandir(day_dir / hour_name):
                    name = entry.name
                    stem = name.removesuffix(TEMP_SUFFIX).removesuffix(SEGMENT_SUFFIX)
                    if not (stem.isdigit() and stem[0] != "0" and entry.is_file()):
                        continue
                    start_ms = int(stem)
                    if not low <= start_ms < low + HOUR_MS or start_ms < after:
                        continue  # the full walk judges what is out of place
                    path = prefix + name
                    if name.endswith(TEMP_SUFFIX):
                        partials.append((start_ms, path))
                    elif name.endswith(SEGMENT_SUFFIX) and (latest is None or path != latest.path):
                        segments.append((start_ms, path))
        return _Listing(sorted(segments), sorted(partials), 0)

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
            if not (day_dir.is_dir() and _is_day(day_dir.name)):
                continue
            day_start_ms = _day_end_ms(day_dir.name) - DAY_MS
            for hour_dir in sorted(day_dir.iterdir()):
                if limit is not None and not (
                    _is_hour(hour_dir.name)
                    and day_start_ms + (int(hour_dir.name) + 1) * HOUR_MS <= limit
                ):
                    continue
                if hour_dir.is_dir():
                    removed += remove_empty_dirs(hour_dir, stop_at=camera_dir)
            if day_dir.is_dir() and (limit is None or day_start_ms + DAY_MS <= limit):
                removed += remove_empty_dirs(day_dir, stop_at=camera_dir)
        return removed


class _Rows:
    """A camera's index rows in (start, id) order, fetched in keyset pages as the walk needs
    them, so the merge can run without an await per row."""

    def __init__(
        self, index: SegmentIndex, camera_id: str, batch: int = 5000, before_ms: int | None = None
    ) -> None:
        self._index = index
        self._camera_id = camera_id
        self._batch = batch
        self._before_ms = before_ms  # rows from here on are capture's: never loaded
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
            before = self._before_ms
            if before is not None and page and page[-1].start_ms >= before:
                page = [ref for ref in page if ref.start_ms < before]
                self._done = True
            elif len(page) < self._batch:
                self._done = True
            else:
                self._after = (page[-1].start_ms, page[-1].id)
            self._rows.extend(page)

    def head(self) -> SegmentRef | None:
        return self._rows[0] if self._rows else None

    def pop(self) -> None:
        self._rows.popleft()


def _day_end_ms(day: str) -> int:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return round(start.timestamp() * 1000) + DAY_MS


def _is_hour(name: str) -> bool:
    return len(name) == 2 and name.isdigit() and name <= "23"


def _ref(segment: Segment) -> SegmentRef:
    return SegmentRef(
        segment.id,
        segment.camera_id,
        segment.run_start_ms,
        segment.start_ms,
        segment.end_ms,
        segment.bytes,
        segment.path,
    )


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    return True
