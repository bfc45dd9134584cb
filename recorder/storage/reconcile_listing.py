"""Reconciliation's view of the store: the files on disk and the rows in the index, in order.

Only reading: `StoreListing` lists directories (blocking; the reconciler runs it in a thread)
and `IndexRows` pages a camera's rows. What to do about what they find is planned by
reconcile_plan.py and done by reconcile_execute.py.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recorder.site import RECORDINGS_DIR
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.layout import CAMERA_ID_RE, SEGMENT_SUFFIX, TEMP_SUFFIX, SegmentLayout
from recorder.storage.model import Segment

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# The tail walk reads at most this many hour directories per camera, newest first: a crash
# leaves its files in the last one or two. More (an index lost with its tail) is left to the
# full walk, which runs while capture does.
TAIL_HOURS = 48


@dataclass(frozen=True)
class Listing:
    segments: list[tuple[int, str]]  # (start_ms, relative path), ordered by start
    partials: list[tuple[int, str]]  # start_ms -1: not where the layout would put it
    ignored: int


class StoreListing:
    """Lists the recordings tree and the quarantine. Blocking: call in a thread."""

    def __init__(self, layout: SegmentLayout, quarantine: Path) -> None:
        self._layout = layout
        self._quarantine = quarantine

    def camera_dirs(self) -> set[str]:
        root = self._layout.root
        if not root.is_dir():
            return set()
        return {p.name for p in root.iterdir() if p.is_dir() and CAMERA_ID_RE.match(p.name)}

    def day_dirs(self, camera_id: str) -> tuple[list[str], int]:
        """The camera's day directories in time order, and how many other entries it holds."""
        camera_dir = self._layout.camera_dir(camera_id)
        if not camera_dir.is_dir():
            return [], 0
        entries = list(camera_dir.iterdir())
        days = sorted(p.name for p in entries if p.is_dir() and is_day(p.name))
        return days, len(entries) - len(days)

    def day(self, camera_id: str, day: str, before_ms: int | None) -> Listing:
        """The day's segments and partial files starting before `before_ms` (capture's from
        there on), and how many entries do not follow the layout."""
        segments: list[tuple[int, str]] = []
        partials: list[tuple[int, str]] = []
        ignored = 0
        before = before_ms if before_ms is not None else 2**63
        day_dir = self._layout.camera_dir(camera_id) / day
        day_start_ms = day_end_ms(day) - DAY_MS
        for hour in sorted(os.scandir(day_dir), key=lambda e: e.name):
            hour_name = hour.name
            if not is_hour(hour_name) or not hour.is_dir():
                ignored += 1
                continue
            # What `SegmentLayout.relative_path` puts in this directory: a canonical start
            # time within the hour (checked by bounds, not by rebuilding every path).
            low = day_start_ms + int(hour_name) * HOUR_MS
            high = low + HOUR_MS
            prefix = f"{RECORDINGS_DIR}/{camera_id}/{day}/{hour_name}/"
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
        return Listing(segments, partials, ignored)

    def tail(self, camera_id: str, latest: Segment | None) -> Listing:
        """The camera's files after its newest row (all of them when it has none), from its
        newest `TAIL_HOURS` hour directories: what a crash left unindexed."""
        after = latest.start_ms if latest is not None else -1
        segments: list[tuple[int, str]] = []
        partials: list[tuple[int, str]] = []
        hours = 0
        days, _ = self.day_dirs(camera_id)
        for day in reversed(days):
            day_dir = self._layout.camera_dir(camera_id) / day
            day_start_ms = day_end_ms(day) - DAY_MS
            names = sorted(
                (e.name for e in os.scandir(day_dir) if e.is_dir() and is_hour(e.name)),
                reverse=True,
            )
            for hour_name in names:
                low = day_start_ms + int(hour_name) * HOUR_MS
                if low + HOUR_MS <= after or hours >= TAIL_HOURS:
                    return Listing(sorted(segments), sorted(partials), 0)
                hours += 1
                prefix = f"{RECORDINGS_DIR}/{camera_id}/{day}/{hour_name}/"
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
        return Listing(sorted(segments), sorted(partials), 0)

    def missing(self, suspects: list[SegmentRef]) -> list[SegmentRef]:
        """The rows whose files are really absent: a row whose path the walk did not reach
        (one not following the layout) must not lose a file that exists."""
        return [r for r in suspects if not self._layout.absolute(r.path).exists()]

    def quarantined(self) -> list[str]:
        if not self._quarantine.is_dir():
            return []
        return [
            str(p.relative_to(self._quarantine)) for p in self._quarantine.rglob("*") if p.is_file()
        ]


class IndexRows:
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


def day_end_ms(day: str) -> int:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return round(start.timestamp() * 1000) + DAY_MS


def is_hour(name: str) -> bool:
    return len(name) == 2 and name.isdigit() and name <= "23"


def is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    return True
