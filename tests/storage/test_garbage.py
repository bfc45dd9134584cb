"""The garbage flow with real files: mark in the index, unlink, fsync, clear."""

from __future__ import annotations

from pathlib import Path

from recorder.storage.garbage import GarbageCollector
from recorder.storage.index import GarbageEntry
from recorder.storage.layout import SegmentLayout
from recorder.storage.sqlite_index import SqliteSegmentIndex

from .conftest import T0, place_segment

HOUR = 3_600_000


async def test_marked_segments_are_unlinked_and_cleared(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    await sqlite_index.ensure_camera("cam")
    old = await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0 - 5 * HOUR))
    recent = await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0))
    entries = await sqlite_index.mark_garbage([old.id, recent.id])
    report = await GarbageCollector(sqlite_index, layout).collect(
        entries, prune_dirs_before_ms=T0 - HOUR
    )
    assert (report.unlinked, report.failed, report.freed_bytes) == (2, 0, old.bytes + recent.bytes)
    assert not layout.absolute(old.path).exists() and not layout.absolute(recent.path).exists()
    assert await sqlite_index.list_garbage() == []
    # The old hour's directory went; the current hour's stays for capture to write into.
    assert not layout.absolute(old.path).parent.exists()
    assert layout.absolute(recent.path).parent.is_dir()


async def test_already_missing_files_are_cleared_and_failures_kept(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    await sqlite_index.ensure_camera("cam")
    gone = await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0))
    stuck = await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0 + 10_000))
    layout.absolute(gone.path).unlink()
    # A directory where the file was: unlink fails (EISDIR), as a read-only mount would.
    stuck_file = layout.absolute(stuck.path)
    stuck_file.unlink()
    stuck_file.mkdir()
    entries = await sqlite_index.mark_garbage([gone.id, stuck.id])
    collector = GarbageCollector(sqlite_index, layout)
    report = await collector.collect(entries)
    assert (report.unlinked, report.already_gone, report.failed) == (0, 1, 1)
    assert [g.path for g in await sqlite_index.list_garbage()] == [stuck.path]
    assert (await sqlite_index.usage()).garbage_bytes == stuck.bytes  # still counted
    # Once the obstacle is gone, the next pass finishes the job.
    stuck_file.rmdir()
    retry = await collector.finish_pending()
    assert retry.already_gone == 1
    assert await sqlite_index.list_garbage() == []


async def test_entries_outside_the_recordings_tree_are_never_unlinked(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, tmp_path: Path
) -> None:
    precious = layout.data_dir / "index.db"
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    entries = [
        GarbageEntry("index.db", "cam", 1),
        GarbageEntry("recordings/../index.db", "cam", 1),
        GarbageEntry(str(outside), "cam", 1),
    ]
    await GarbageCollector(sqlite_index, layout).collect(entries)
    assert precious.exists() and outside.exists()
