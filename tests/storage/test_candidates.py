"""Retention's candidate windows: unprotected segments found in the gaps between protections
agree with SQLite's own row-by-row test, on every index implementation."""

from __future__ import annotations

import random

from recorder.storage.candidates import oldest_window, unprotected_gaps, unprotected_window
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.model import Protection

from .conftest import T0, new_segment

S = 10_000


def test_gaps_are_the_stretches_between_merged_protections() -> None:
    protections = [
        Protection("a", 100, 200, "event:1", None),
        Protection("a", 150, 300, "event:2", None),  # overlaps the first: one span 100-300
        Protection("a", 300, 350, "clip", None),  # touches it: still one span
        Protection("a", 500, 600, "event:3", None),
        Protection("a", 700, 800, "event:4", 10),  # expired at now=10: no longer protects
        Protection("b", 0, 50, "event:5", None),
    ]
    assert unprotected_gaps(protections, now_ms=10) == {
        "a": [(None, 100), (350, 500), (600, None)],
        "b": [(None, 0), (50, None)],
    }


async def test_the_gap_window_equals_the_row_by_row_window(any_index: SegmentIndex) -> None:
    rng = random.Random(7)
    cameras = ["a", "b", "c"]
    for camera in cameras:
        await any_index.ensure_camera(camera)
        for i in range(60):
            await any_index.add_segment(new_segment(camera, T0 + i * S + cameras.index(camera)))
        for _ in range(8):  # events of 5-40 s anywhere, some overlapping, some expired
            start = T0 + rng.randrange(0, 60 * S)
            expires = rng.choice([None, T0 - 1, T0 + 10 * S])
            await any_index.add_protection(
                Protection(camera, start, start + rng.randrange(5_000, 40_000), "event:1", expires)
            )
    # c's history is one long protected span but for its newest minute.
    await any_index.add_protection(Protection("c", T0 - S, T0 + 54 * S, "clip 9 export"))
    protections = await any_index.protections(active_at_ms=T0)
    gaps = unprotected_gaps(protections, T0)
    every = await any_index.oldest_segments(limit=10_000, unprotected_at_ms=T0)
    assert 20 < len(every) < 150  # the dataset has both kinds in numbers
    for need, batch in [(1, 2000), (25_000, 2000), (10**9, 2000), (10**9, 7)]:
        window, exhausted = await unprotected_window(
            any_index, cameras, gaps, need=need, batch=batch
        )
        expected, expected_exhausted = await oldest_window(any_index, need, T0, batch=batch)
        # The SQL window reads whole pages: compare what covers `need` (what the planner takes).
        assert covering(window, need) == covering(expected, need), (need, batch)
        if sum(r.bytes for r in window) < need and len(window) < batch:
            assert exhausted and expected_exhausted
            assert [r.id for r in window] == [r.id for r in every]
        else:
            assert not exhausted


def covering(window: list[SegmentRef], need: int) -> list[int]:
    ids, covered = [], 0
    for ref in window:
        if covered >= need:
            break
        ids.append(ref.id)
        covered += ref.bytes
    return ids
