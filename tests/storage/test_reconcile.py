"""Start-up reconciliation on real fMP4 files and a real SQLite index."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from recorder.errors import StorageUnavailable
from recorder.site import QUARANTINE_DIR
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.reconcile import Reconciler
from recorder.storage.sqlite_index import SqliteSegmentIndex
from tests.small_fs import small_filesystem

from .conftest import T0, place_segment

S = 10_000


def _chop(path: Path, tail: int) -> None:
    path.write_bytes(path.read_bytes()[:-tail])


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def test_crash_leftovers_are_reconciled(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    index = sqlite_index
    await index.ensure_camera("cam")
    # Three indexed segments of one run...
    indexed = [
        await index.add_segment(place_segment(layout, clip, "cam", T0 + i * S, run_start_ms=T0))
        for i in range(3)
    ]
    # ... the second's file was lost,
    layout.absolute(indexed[1].path).unlink()
    # a fourth was renamed into place but the crash came before its row was inserted,
    orphan = place_segment(layout, clip, "cam", T0 + 3 * S)
    # a fifth was being written (a partial file, truncated),
    fifth = layout.absolute(layout.relative_path("cam", T0 + 4 * S))
    partial = layout.temp_path(fifth)
    shutil.copyfile(clip, partial)
    _chop(partial, partial.stat().st_size - 5000)
    # a final file in another hour is truncated (the disk lost its tail),
    damaged = place_segment(layout, clip, "cam", T0 + 2 * 3_600_000)
    damaged_file = layout.absolute(damaged.path)
    _chop(damaged_file, 3000)
    # a deletion was marked but its file never unlinked,
    doomed = await index.add_segment(place_segment(layout, clip, "cam", T0 - 3 * 3_600_000))
    await index.mark_garbage([doomed.id])
    # and someone left a note in our tree.
    note = layout.camera_dir("cam") / "README.txt"
    note.write_text("hands off")

    summary = await Reconciler(index, layout).run()

    assert (summary.indexed, summary.dropped_rows, summary.discarded_partials) == (1, 1, 1)
    assert (summary.quarantined, summary.garbage_finished, summary.ignored_files) == (1, 1, 1)
    assert str(summary).startswith(
        "reconciled: indexed 1 orphan segment, dropped 1 missing row, discarded 1 partial file, "
        "quarantined 1 damaged file, finished 1 pending deletion, removed "
    )
    # The orphan is indexed with what its file says, continuing the run before it.
    found = await index.segment_at("cam", T0 + 3 * S + 1)
    assert found is not None
    assert (found.path, found.run_start_ms, found.end_ms) == (orphan.path, T0, orphan.end_ms)
    assert found.keyframes == orphan.keyframes and found.bytes == orphan.bytes
    # The index now lists exactly the complete files on disk.
    rows = {ref.path async for ref in index.segment_refs("cam")}
    assert rows == {indexed[0].path, indexed[2].path, orphan.path}
    on_disk = {f"recordings/{p}" for p in _files(layout.root) if p.endswith(".mp4")}
    assert on_disk == rows
    assert not partial.exists() and note.exists()
    # The damaged file was moved aside for a human, not deleted and not indexed.
    assert _files(layout.data_dir / QUARANTINE_DIR) == {f"cam/{damaged_file.name}"}
    assert await index.list_garbage() == []
    # Directories emptied by all this are gone; the camera directory stays.
    assert not damaged_file.parent.exists()
    assert not layout.absolute(doomed.path).parent.exists()
    assert layout.camera_dir("cam").is_dir()

    again = await Reconciler(index, layout).run()
    assert str(again) == "reconciled: ignored 1 unknown file"


async def test_files_of_a_camera_the_index_never_knew_are_indexed(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path, clip_with_audio: Path
) -> None:
    place_segment(layout, clip_with_audio, "new-cam", T0)
    summary = await Reconciler(sqlite_index, layout).run()
    assert summary.indexed == 1
    assert [c.id for c in await sqlite_index.cameras()] == ["new-cam"]
    seg = await sqlite_index.latest_segment("new-cam")
    assert seg is not None and seg.has_audio and seg.video_codec.startswith("avc1.")


async def test_rebuilding_a_lost_index_in_chunks_keeps_runs_whole(
    tmp_path: Path, layout: SegmentLayout, clip: Path
) -> None:
    # The index file was lost; 12 contiguous segments on disk must come back as one run.
    info_end = T0
    for _ in range(12):
        seg = place_segment(layout, clip, "cam", info_end)
        info_end = seg.end_ms
    async with SqliteSegmentIndex(tmp_path / "fresh.db") as index:
        summary = await Reconciler(index, layout, chunk=5).run()
        assert summary.indexed == 12
        runs = await index.runs("cam", T0, info_end)
        assert len(runs) == 1 and runs[0].segments == 12


async def test_index_rows_of_a_deleted_camera_directory_are_dropped(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    await sqlite_index.ensure_camera("cam")
    for i in range(7):
        await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0 + i * S))
    shutil.rmtree(layout.camera_dir("cam"))
    summary = await Reconciler(sqlite_index, layout, chunk=3).run()
    assert summary.dropped_rows == 7
    assert (await sqlite_index.usage()).total_bytes == 0


async def test_quarantine_is_bounded(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    for i in range(3):
        seg = place_segment(layout, clip, "cam", T0 + i * S)
        layout.absolute(seg.path).write_bytes(b"\x00\x00\x00\x20ftyp")  # cut inside ftyp
    summary = await Reconciler(sqlite_index, layout, quarantine_keep=2).run()
    assert summary.quarantined == 3 and summary.indexed == 0
    assert _files(layout.data_dir / QUARANTINE_DIR) == {
        f"cam/{T0 + S}.mp4",
        f"cam/{T0 + 2 * S}.mp4",
    }


async def test_a_missing_recordings_tree_is_refused_not_emptied_from_the_index(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    await sqlite_index.ensure_camera("cam")
    await sqlite_index.add_segment(place_segment(layout, clip, "cam", T0))
    shutil.rmtree(layout.root)  # as if the recordings disk had not been mounted
    with pytest.raises(StorageUnavailable, match="mounted"):
        await Reconciler(sqlite_index, layout).run()
    assert (await sqlite_index.usage()).total_bytes > 0


async def test_only_files_where_the_layout_puts_them_count(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    index = sqlite_index
    await index.ensure_camera("cam")
    kept = await index.add_segment(place_segment(layout, clip, "cam", T0))
    hour_dir = layout.absolute(kept.path).parent
    day_dir = hour_dir.parent
    strays = [
        hour_dir / f"0{T0 + S}.mp4",  # not the canonical name of its start
        hour_dir / f"{T0 + 5 * 3_600_000}.mp4",  # a start outside this hour
        day_dir / "24" / f"{T0}.mp4",  # no such hour
        day_dir / "100" / f"{T0}.mp4",
        day_dir / "1a" / f"{T0}.mp4",
    ]
    for stray in strays:
        stray.parent.mkdir(exist_ok=True)
        shutil.copyfile(clip, stray)

    summary = await Reconciler(index, layout).run()

    # Not ours to judge: neither indexed nor deleted (a human put them there).
    assert (summary.indexed, summary.dropped_rows, summary.quarantined) == (0, 0, 0)
    assert summary.ignored_files == 5
    assert all(stray.exists() for stray in strays)
    assert [ref.path async for ref in index.segment_refs("cam")] == [kept.path]


async def test_many_days_of_rows_are_walked_in_pages(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    index = sqlite_index
    await index.ensure_camera("cam")
    day = 24 * 3_600_000
    starts = [T0 + d * day + h * 3_600_000 for d in range(4) for h in (0, 7, 15)]
    rows = [await index.add_segment(place_segment(layout, clip, "cam", t)) for t in starts]
    lost = rows[4]  # a row in the middle of the second day loses its file
    layout.absolute(lost.path).unlink()
    orphan = place_segment(layout, clip, "cam", T0 + 2 * day + 3_600_000)  # no row

    # Pages of 2 rows: every day boundary falls inside a page or between pages.
    summary = await Reconciler(index, layout, chunk=3, rows_per_page=2).run()

    assert (summary.indexed, summary.dropped_rows) == (1, 1)
    paths = [ref.path async for ref in index.segment_refs("cam")]
    assert sorted(paths) == sorted([r.path for r in rows if r is not lost] + [orphan.path])


async def test_quarantine_works_when_recordings_are_on_another_filesystem(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    # The recordings tree is its own (tmpfs) mount; the quarantine lives in the data directory.
    with small_filesystem(layout.root, 8 * 1024 * 1024):
        damaged = place_segment(layout, clip, "cam", T0)
        damaged_file = layout.absolute(damaged.path)
        _chop(damaged_file, 3000)
        content = damaged_file.read_bytes()
        summary = await Reconciler(sqlite_index, layout).run()
        assert (summary.quarantined, summary.failed) == (1, 0)
        assert not damaged_file.exists()
        moved = layout.data_dir / QUARANTINE_DIR / "cam" / damaged_file.name
        assert moved.read_bytes() == content
        assert [p.name for p in (layout.data_dir / QUARANTINE_DIR).rglob("*.moving")] == []


def _crashed_partial(layout: SegmentLayout, clip: Path, camera_id: str, start_ms: int) -> Path:
    """The segment in flight when the recorder was killed: 3 whole fragments, the 4th cut."""
    partial = layout.temp_path(layout.absolute(layout.relative_path(camera_id, start_ms)))
    partial.parent.mkdir(parents=True, exist_ok=True)
    _truncate_copy(clip, partial, inspect_fmp4(clip).keyframes[3].byte_offset + 900)
    return partial


def _truncate_copy(source: Path, target: Path, size: int) -> None:
    target.write_bytes(source.read_bytes()[:size])


async def test_a_crashed_segment_keeps_its_complete_fragments(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    index = sqlite_index
    await index.ensure_camera("cam")
    for i in range(2):
        await index.add_segment(place_segment(layout, clip, "cam", T0 + i * S, run_start_ms=T0))
    partial = _crashed_partial(layout, clip, "cam", T0 + 2 * S)

    summary = await Reconciler(index, layout).run()

    assert (summary.recovered_partials, summary.discarded_partials) == (1, 0)
    assert "recovered 1 partial segment" in str(summary)
    found = await index.segment_at("cam", T0 + 2 * S + 1)
    assert found is not None
    assert found.path == layout.relative_path("cam", T0 + 2 * S)
    # Three seconds of the run it continues; its keyframes, bytes and file agree.
    assert (found.run_start_ms, found.start_ms, found.end_ms) == (T0, T0 + 2 * S, T0 + 2 * S + 3000)
    assert [k.offset_ms for k in found.keyframes] == [0, 1000, 2000]
    final = layout.absolute(found.path)
    facts = inspect_fmp4(final)
    assert facts.complete and facts.fragments == 3 and facts.size == found.bytes
    assert not partial.exists()
    with av.open(str(final)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 45  # 3 s at 15 fps, all decodable
    assert str(await Reconciler(index, layout).run()) == "reconciled: disk and index agree"


async def test_a_partial_without_a_whole_fragment_is_deleted(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    partial = layout.temp_path(layout.absolute(layout.relative_path("cam", T0)))
    partial.parent.mkdir(parents=True)
    _truncate_copy(clip, partial, inspect_fmp4(clip).init_bytes + 100)
    summary = await Reconciler(sqlite_index, layout).run()
    assert (summary.recovered_partials, summary.discarded_partials) == (0, 1)
    assert not partial.exists() and await sqlite_index.latest_segment("cam") is None


async def test_the_tail_is_recovered_before_capture_and_the_rest_while_it_runs(
    sqlite_index: SqliteSegmentIndex, layout: SegmentLayout, clip: Path
) -> None:
    index = sqlite_index
    await index.ensure_camera("cam")
    hour = 3_600_000
    lost = await index.add_segment(place_segment(layout, clip, "cam", T0 - 3 * hour))
    layout.absolute(lost.path).unlink()  # a row without its file, hours ago
    old_orphan = place_segment(layout, clip, "cam", T0 - 2 * hour)  # a file without its row
    for i in range(2):
        await index.add_segment(place_segment(layout, clip, "cam", T0 + i * S, run_start_ms=T0))
    # The crash: one segment renamed but not indexed, the next one in flight.
    unindexed = place_segment(layout, clip, "cam", T0 + 2 * S)
    partial = _crashed_partial(layout, clip, "cam", T0 + 3 * S)
    reconciler = Reconciler(index, layout)

    tail = await reconciler.recover_tail()

    assert (tail.indexed, tail.recovered_partials, tail.dropped_rows) == (1, 1, 0)
    latest = await index.latest_segment("cam")
    assert latest is not None and latest.path == layout.relative_path("cam", T0 + 3 * S)
    assert (latest.run_start_ms, latest.end_ms) == (T0, T0 + 3 * S + 3000)
    assert (await index.segment_at("cam", T0 + 2 * S + 1)).path == unindexed.path  # type: ignore[union-attr]
    assert not partial.exists()
    # Older trouble is left for the full walk: the tail reads the newest hours only.
    assert await index.segment_at("cam", T0 - 2 * hour + 1) is None
    assert await index.get_segment(lost.id) is not None

    # Capture starts; the full walk runs beside it and leaves capture's files alone.
    capture_from = T0 + 5 * S
    writing = _crashed_partial(layout, clip, "cam", T0 + 6 * S)
    finishing = place_segment(layout, clip, "cam", T0 + 7 * S)  # renamed, row on its way
    summary = await reconciler.run(before_ms=capture_from)

    assert (summary.indexed, summary.dropped_rows, summary.recovered_partials) == (1, 1, 0)
    assert (await index.segment_at("cam", T0 - 2 * hour + 1)).path == old_orphan.path  # type: ignore[union-attr]
    assert await index.get_segment(lost.id) is None
    assert writing.exists() and writing.stat().st_size == inspect_fmp4(writing).size
    assert layout.absolute(finishing.path).exists()
    assert await index.segment_at("cam", T0 + 7 * S + 1) is None
