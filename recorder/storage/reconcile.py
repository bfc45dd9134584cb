"""Start-up reconciliation of disk and index: list, plan, execute.

In two steps, so that a start on a full store records from the first second:

- `recover_tail()`, before capture starts: what a crash left at the end of each camera's
  recordings (the segment in flight as a `.partial`, segments renamed but not yet indexed) is
  recovered, so the index is whole up to the crash. It reads a few directories per camera.
- `run(before_ms=...)`, while capture runs: the full walk, which finds whatever else is off
  (rows without files, files without rows, damaged files anywhere) but leaves alone what starts
  at or after `before_ms`: that is capture's, and its `.partial` files are being written.

Memory stays bounded on a 2.6 M-segment store: each camera's files are listed one day directory
at a time and merged, in start order, with its index rows streamed in keyset pages; findings are
planned and executed in chunks. The parts: reconcile_listing.py reads the disk and the index,
this module merges them into findings, reconcile_plan.py (pure) turns findings into actions,
reconcile_execute.py applies them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from recorder.errors import SegmentError, StorageUnavailable
from recorder.site import Site
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.garbage import GarbageCollector
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment
from recorder.storage.reconcile_execute import ReconcileExecutor, ReconcileSummary
from recorder.storage.reconcile_listing import DAY_MS, IndexRows, StoreListing, day_end_ms
from recorder.storage.reconcile_plan import (
    CameraFindings,
    Orphan,
    ReconcileAction,
    RunTail,
    plan_quarantine_prune,
    plan_reconcile,
)

log = logging.getLogger(__name__)


class Reconciler:
    """Makes the index agree with the disk again after a crash: the tail before capture, the
    full walk beside it (module docstring)."""

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
        self._quarantine = Site(layout.data_dir).quarantine
        self._listing = StoreListing(layout, self._quarantine)
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
        on_disk = await asyncio.to_thread(self._listing.camera_dirs)
        for camera_id in sorted(indexed | on_disk):
            latest = await self._index.latest_segment(camera_id) if camera_id in indexed else None
            listing = await asyncio.to_thread(self._listing.tail, camera_id, latest)
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
        on_disk = await asyncio.to_thread(self._listing.camera_dirs)
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
        names = await asyncio.to_thread(self._listing.quarantined)
        summary += await self._execute(plan_quarantine_prune(names, self._keep))
        log.info("%s", summary)
        return summary

    # -- merge -----------------------------------------------------------------------------

    async def _scan(
        self, camera_id: str, camera_indexed: bool, pending: set[str]
    ) -> AsyncIterator[tuple[CameraFindings, int]]:
        rows = IndexRows(self._index, camera_id, self._rows_per_page, self._before_ms)
        present: SegmentRef | None = None  # newest indexed row whose file exists
        orphans: list[Orphan] = []
        suspects: list[SegmentRef] = []
        partials: list[Orphan] = []
        days, ignored = await asyncio.to_thread(self._listing.day_dirs, camera_id)
        for day in days:
            if self._stop is not None and self._stop.is_set():
                return  # what this camera's walk found so far is dropped: the next start redoes it
            if self._before_ms is not None and day_end_ms(day) - DAY_MS >= self._before_ms:
                break  # capture's
            listing = await asyncio.to_thread(self._listing.day, camera_id, day, self._before_ms)
            ignored += listing.ignored
            await rows.load_until(day_end_ms(day))
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
        return await asyncio.to_thread(self._listing.missing, suspects) if suspects else []

    async def _execute(self, actions: tuple[ReconcileAction, ...]) -> ReconcileSummary:
        executor = ReconcileExecutor(
            self._index, self._layout, self._quarantine, self._collector, self._before_ms
        )
        return await executor.execute(actions)


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
