"""The `SegmentIndex` contract, run against every implementation (SQLite file and memory fake)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from recorder.errors import IndexConflict, IndexFailure
from recorder.storage.index import SegmentIndex, gaps
from recorder.storage.model import Keyframe, Protection, Run

from .conftest import T0, new_segment

S = 10_000  # segment length used throughout


async def _cameras(index: SegmentIndex, *ids: str) -> None:
    for camera_id in ids:
        await index.ensure_camera(camera_id)


class TestSegmentIndexContract:
    async def test_cameras_are_created_once_and_renamed(self, any_index: SegmentIndex) -> None:
        first = await any_index.ensure_camera("front", "Front door")
        again = await any_index.ensure_camera("front", "Porch")
        assert again.name == "Porch"
        assert again.created_ms == first.created_ms == T0
        assert [c.id for c in await any_index.cameras()] == ["front"]
        assert (await any_index.ensure_camera("back")).name == "back"

    async def test_invalid_camera_id_is_refused(self, any_index: SegmentIndex) -> None:
        with pytest.raises(IndexConflict):
            await any_index.ensure_camera("../etc")

    async def test_segment_round_trips_every_field(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        keyframes = (Keyframe(0, 800), Keyframe(1000, 9000), Keyframe(2000, 2**33))
        new = new_segment(
            "cam", T0, run_start_ms=T0 - 60_000, keyframes=keyframes,
            video_codec="avc1.64001f", has_audio=True, bytes=2**34, init_bytes=800,
        )  # fmt: skip
        stored = await any_index.add_segment(new)
        assert stored.id > 0
        fetched = await any_index.get_segment(stored.id)
        assert fetched == stored
        assert fetched.keyframes == keyframes and fetched.has_audio and fetched.bytes == 2**34
        assert fetched.run_start_ms == T0 - 60_000
        assert await any_index.get_segment(stored.id + 1000) is None

    @pytest.mark.parametrize(
        "change",
        [
            {"end_ms": T0 - 1},  # ends before it starts
            {"run_start_ms": T0 + 1},  # run starts after the segment
            {"end_ms": T0 + 3_600_001},  # longer than any segment
            {"init_bytes": 2000},  # header bigger than the file
            {"path": "recordings/cam/elsewhere.mp4"},  # not the layout's path
            {"path": "../../etc/passwd"},
            {"keyframes": (Keyframe(1000, 500), Keyframe(0, 900))},  # out of order
        ],
    )
    async def test_impossible_segments_are_refused(
        self, any_index: SegmentIndex, change: dict[str, Any]
    ) -> None:
        await _cameras(any_index, "cam")
        with pytest.raises(IndexConflict):
            await any_index.add_segment(new_segment("cam", T0, **change))
        assert (await any_index.usage()).total_bytes == 0

    async def test_unknown_camera_and_duplicate_path_conflict(
        self, any_index: SegmentIndex
    ) -> None:
        with pytest.raises(IndexConflict, match="unknown camera"):
            await any_index.add_segment(new_segment("ghost", T0))
        await _cameras(any_index, "cam")
        await any_index.add_segment(new_segment("cam", T0))
        with pytest.raises(IndexConflict, match="already indexed"):
            await any_index.add_segment(new_segment("cam", T0))

    async def test_segments_between_returns_overlapping_in_order(
        self, any_index: SegmentIndex
    ) -> None:
        await _cameras(any_index, "cam", "other")
        ids = [(await any_index.add_segment(new_segment("cam", T0 + i * S))).id for i in range(3)]
        await any_index.add_segment(new_segment("other", T0))

        async def between(a: int, b: int) -> list[int]:
            return [s.id for s in await any_index.segments_between("cam", T0 + a, T0 + b)]

        assert await between(5_000, 15_000) == ids[:2]
        assert await between(10_000, 20_000) == [ids[1]]  # touching ends do not overlap
        assert await between(-1_000_000, 1_000_000) == ids
        assert await between(30_000, 40_000) == []
        assert await between(-5_000, 0) == []
        limited = await any_index.segments_between("cam", T0, T0 + 30_000, limit=2)
        assert [s.id for s in limited] == ids[:2]

    async def test_segment_at_and_latest(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        assert await any_index.latest_segment("cam") is None
        first = await any_index.add_segment(new_segment("cam", T0))
        second = await any_index.add_segment(new_segment("cam", T0 + 20_000))  # gap 10..20 s
        assert await any_index.segment_at("cam", T0) == first
        assert await any_index.segment_at("cam", T0 + 9_999) == first
        assert await any_index.segment_at("cam", T0 + 10_000) is None
        assert await any_index.segment_at("cam", T0 + 25_000) == second
        assert await any_index.segment_at("cam", T0 - 1) is None
        assert await any_index.latest_segment("cam") == second

    async def test_runs_break_at_restarts_and_deletions(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        segs = []
        for i in range(6):  # run A: 0..30 s; run B (capture restarted): 30..60 s
            run = T0 if i < 3 else T0 + 3 * S
            segs.append(
                await any_index.add_segment(new_segment("cam", T0 + i * S, run_start_ms=run))
            )
        await any_index.mark_garbage([segs[4].id])  # a hole inside run B
        runs = await any_index.runs("cam", T0 + 5_000, T0 + 100_000)
        assert runs == [
            Run("cam", T0, T0 + 5_000, T0 + 30_000, 3, 3000),
            Run("cam", T0 + 30_000, T0 + 30_000, T0 + 40_000, 1, 1000),
            Run("cam", T0 + 30_000, T0 + 50_000, T0 + 60_000, 1, 1000),
        ]
        assert gaps(runs, T0, T0 + 70_000) == [
            (T0, T0 + 5_000),
            (T0 + 40_000, T0 + 50_000),
            (T0 + 60_000, T0 + 70_000),
        ]

    async def test_usage_counts_bytes_per_camera_and_garbage(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "a", "b", "idle")
        a1 = await any_index.add_segment(new_segment("a", T0, bytes=100))
        await any_index.add_segment(new_segment("a", T0 + S, bytes=200))
        await any_index.add_segment(new_segment("b", T0 + 5_000, bytes=50))
        usage = await any_index.usage()
        assert usage.total_bytes == 350 and usage.garbage_bytes == 0
        by_id = {c.camera_id: c for c in usage.per_camera}
        assert (by_id["a"].bytes, by_id["a"].segments) == (300, 2)
        assert (by_id["a"].oldest_ms, by_id["a"].newest_ms) == (T0, T0 + 2 * S)
        assert (by_id["idle"].bytes, by_id["idle"].oldest_ms) == (0, None)

        await any_index.mark_garbage([a1.id])
        usage = await any_index.usage()
        assert (usage.total_bytes, usage.garbage_bytes) == (250, 100)
        await any_index.clear_garbage([a1.path])
        assert (await any_index.usage()).garbage_bytes == 0

    async def test_oldest_segments_pages_across_cameras(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "a", "b")
        expected = []
        for i in range(5):
            expected.append((await any_index.add_segment(new_segment("a", T0 + i * S))).id)
            expected.append((await any_index.add_segment(new_segment("b", T0 + i * S + 1))).id)
        seen: list[int] = []
        after = None
        while True:
            page = await any_index.oldest_segments(limit=3, after=after)
            seen += [r.id for r in page]
            if len(page) < 3:
                break
            after = (page[-1].start_ms, page[-1].id)
        assert seen == expected

        only_b = await any_index.oldest_segments(limit=100, camera_id="b")
        assert [r.camera_id for r in only_b] == ["b"] * 5
        ended = await any_index.oldest_segments(limit=100, camera_id="a", ending_by_ms=T0 + 2 * S)
        assert [r.start_ms for r in ended] == [T0, T0 + S]

    async def test_oldest_segments_can_skip_protected(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "a", "b")
        for i in range(4):
            await any_index.add_segment(new_segment("a", T0 + i * S))
            await any_index.add_segment(new_segment("b", T0 + i * S))
        # Protect a's 10-20 s (overlaps only its 2nd segment) until T0 + 1 h.
        await any_index.add_protection(Protection("a", T0 + S, T0 + 2 * S, "event", T0 + 3_600_000))
        unprotected = await any_index.oldest_segments(limit=100, unprotected_at_ms=T0)
        assert ("a", T0 + S) not in [(r.camera_id, r.start_ms) for r in unprotected]
        assert len(unprotected) == 7
        later = await any_index.oldest_segments(limit=100, unprotected_at_ms=T0 + 3_600_000)
        assert len(later) == 8  # the protection has expired by then

    async def test_event_protections_yield_when_asked(self, any_index: SegmentIndex) -> None:
        """`hard_only`: an event's protection ("event:<id>") no longer counts, a clip's does."""
        await _cameras(any_index, "cam")
        segs = [await any_index.add_segment(new_segment("cam", T0 + i * S)) for i in range(3)]
        await any_index.add_protection(Protection("cam", T0, T0 + S, "event:7", T0 + 3_600_000))
        await any_index.add_protection(Protection("cam", T0 + S, T0 + 2 * S, "clip 3 export"))
        soft = await any_index.oldest_segments(limit=10, unprotected_at_ms=T0, hard_only=True)
        assert [r.id for r in soft] == [segs[0].id, segs[2].id]
        strict = await any_index.oldest_segments(limit=10, unprotected_at_ms=T0)
        assert [r.id for r in strict] == [segs[2].id]
        moved = await any_index.mark_garbage(
            [s.id for s in segs], keep_protected_at_ms=T0, hard_only=True
        )
        assert sorted(g.path for g in moved) == sorted([segs[0].path, segs[2].path])
        assert [s.id for s in await any_index.segments_between("cam", T0, T0 + 3 * S)] == [
            segs[1].id
        ]

    async def test_segment_refs_stream_every_row(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        for i in range(25):
            await any_index.add_segment(new_segment("cam", T0 + i * S))
        refs = [ref async for ref in any_index.segment_refs("cam", batch=4)]
        assert [r.start_ms for r in refs] == [T0 + i * S for i in range(25)]

    async def test_protections_lifecycle(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        clip = await any_index.add_protection(Protection("cam", T0, T0 + S, "clip"))
        event = await any_index.add_protection(
            Protection("cam", T0 + S, T0 + 2 * S, "motion", T0 + 100)
        )
        assert clip.id != event.id and clip.id > 0
        assert await any_index.protections() == [clip, event]
        assert await any_index.protections(active_at_ms=T0 + 100) == [clip]
        assert await any_index.expire_protections(T0 + 100) == 1
        assert await any_index.protections(camera_id="cam") == [clip]
        assert await any_index.remove_protection(clip.id)
        assert not await any_index.remove_protection(clip.id)
        assert await any_index.protections() == []
        with pytest.raises(IndexConflict):
            await any_index.add_protection(Protection("cam", T0, T0, "empty range"))
        with pytest.raises(IndexConflict):
            await any_index.add_protection(Protection("ghost", T0, T0 + 1, "unknown camera"))

    async def test_mark_garbage_moves_rows_and_respects_protection(
        self, any_index: SegmentIndex
    ) -> None:
        await _cameras(any_index, "cam")
        segs = [await any_index.add_segment(new_segment("cam", T0 + i * S)) for i in range(3)]
        await any_index.add_protection(Protection("cam", T0 + S + 1, T0 + S + 2, "event"))
        moved = await any_index.mark_garbage(
            [s.id for s in segs] + [99_999], keep_protected_at_ms=T0
        )
        assert sorted(g.path for g in moved) == sorted([segs[0].path, segs[2].path])
        assert [s.id for s in await any_index.segments_between("cam", T0, T0 + 3 * S)] == [
            segs[1].id
        ]
        assert {g.path for g in await any_index.list_garbage()} == {segs[0].path, segs[2].path}
        assert [g.path for g in await any_index.list_garbage(limit=1)] == [segs[0].path]
        # Without the guard (a row whose file is gone), protection does not keep the row.
        assert [g.path for g in await any_index.mark_garbage([segs[1].id])] == [segs[1].path]
        await any_index.clear_garbage([segs[0].path, segs[1].path])
        assert [g.path for g in await any_index.list_garbage()] == [segs[2].path]

    async def test_ids_are_never_reused(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "cam")
        newest = await any_index.add_segment(new_segment("cam", T0))
        await any_index.mark_garbage([newest.id])
        again = await any_index.add_segment(new_segment("cam", T0 + S))
        assert again.id > newest.id

    async def test_concurrent_writers_all_land(self, any_index: SegmentIndex) -> None:
        await _cameras(any_index, "a", "b")
        await asyncio.gather(
            *(
                any_index.add_segment(new_segment(cam, T0 + i * S))
                for i in range(20)
                for cam in "ab"
            ),
            *(any_index.usage() for _ in range(10)),
        )
        assert (await any_index.usage()).total_bytes == 40 * 1000

    async def test_closed_index_fails_clearly(self, any_index: SegmentIndex) -> None:
        await any_index.close()
        with pytest.raises(IndexFailure):
            await any_index.usage()
