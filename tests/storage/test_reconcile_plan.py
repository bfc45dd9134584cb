"""The reconciliation planner on hand-built findings."""

from __future__ import annotations

from recorder.storage.fmp4 import Fmp4Info
from recorder.storage.index import SegmentRef
from recorder.storage.model import Keyframe
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
    RecoverPartial,
    RunTail,
    plan_quarantine_prune,
    plan_reconcile,
)

T = 1_700_000_000_000


def info(duration_ms: int = 10_000, *, complete: bool = True, problem: str = "") -> Fmp4Info:
    return Fmp4Info(
        complete=complete,
        problem=problem,
        size=5000,
        init_bytes=700,
        duration_ms=duration_ms,
        keyframes=(Keyframe(0, 700), Keyframe(1000, 2000)),
        fragments=2,
        valid_bytes=5000,
        video_codec="avc1.64001f",
        has_audio=True,
    )


def path(start: int) -> str:
    return f"recordings/cam/2023-11-14/22/{start}.mp4"


def test_valid_orphan_is_indexed_with_facts_from_the_file() -> None:
    plan = plan_reconcile(CameraFindings("cam", True, orphans=(Orphan(path(T), T, info()),)))
    (action, prune) = plan.actions
    assert isinstance(action, IndexOrphan)
    seg = action.segment
    assert (seg.start_ms, seg.end_ms, seg.bytes, seg.init_bytes) == (T, T + 10_000, 5000, 700)
    assert seg.keyframes == info().keyframes and seg.has_audio and seg.path == path(T)
    assert seg.run_start_ms == T  # nothing before it: a run of its own
    assert prune == PruneEmptyDirs("cam")


def test_orphan_joins_the_run_of_the_segment_it_continues() -> None:
    before = SegmentRef(1, "cam", T - 60_000, T - 10_000, T, 100, path(T - 10_000))
    far = SegmentRef(1, "cam", T - 60_000, T - 40_000, T - 30_000, 100, path(T - 40_000))
    orphans = (
        Orphan(path(T), T, info(), previous=before),
        Orphan(path(T + 10_000), T + 10_000, info(), previous=before),  # chains via the first
        Orphan(path(T + 90_000), T + 90_000, info(), previous=far),  # after a gap
    )
    plan = plan_reconcile(CameraFindings("cam", True, orphans=orphans))
    runs = [a.segment.run_start_ms for a in plan.actions if isinstance(a, IndexOrphan)]
    assert runs == [T - 60_000, T - 60_000, T + 90_000]
    assert plan.tail == RunTail(T + 90_000, T + 100_000, T + 90_000)


def test_run_chaining_carries_across_chunks() -> None:
    tail = RunTail(T - 10_000, T, T - 50_000)
    plan = plan_reconcile(CameraFindings("cam", True, orphans=(Orphan(path(T), T, info()),)), tail)
    assert isinstance(plan.actions[0], IndexOrphan)
    assert plan.actions[0].segment.run_start_ms == T - 50_000


def test_damaged_or_unreadable_orphans_are_quarantined_not_indexed() -> None:
    orphans = (
        Orphan(path(T), T, info(complete=False, problem="box 'mdat' truncated")),
        Orphan(path(T + 1), T + 1, None, error="permission denied"),
        Orphan(path(T + 2), T + 2, info(duration_ms=0)),
        Orphan(path(T + 3), T + 3, info(duration_ms=4_000_000)),
    )
    plan = plan_reconcile(CameraFindings("cam", False, orphans=orphans))
    assert [a for a in plan.actions if isinstance(a, Quarantine)] == [
        Quarantine(path(T), "box 'mdat' truncated"),
        Quarantine(path(T + 1), "permission denied"),
        Quarantine(path(T + 2), "no media duration"),
        Quarantine(path(T + 3), "lasts 4000000 ms, longer than any segment we write"),
    ]
    assert not any(isinstance(a, IndexOrphan | EnsureCamera) for a in plan.actions)


def test_unknown_camera_is_created_before_its_first_segment() -> None:
    orphans = (Orphan(path(T), T, info()), Orphan(path(T + 10_000), T + 10_000, info()))
    plan = plan_reconcile(CameraFindings("cam", False, orphans=orphans))
    kinds = [type(a) for a in plan.actions]
    assert kinds == [EnsureCamera, IndexOrphan, IndexOrphan, PruneEmptyDirs]


def test_missing_rows_dropped_partials_discarded_dirs_pruned_once() -> None:
    missing = (SegmentRef(7, "cam", T, T, T + 1, 1, path(T)),)
    partial = path(T + 10_000) + ".partial"
    unreadable = Orphan(partial, T + 10_000, None, error="permission denied")
    first = plan_reconcile(
        CameraFindings("cam", True, missing=missing, partials=(unreadable,), last_chunk=False)
    )
    assert first.actions == (DropMissingRows((7,)), DiscardPartial(partial))
    last = plan_reconcile(CameraFindings("cam", True))
    assert last.actions == (PruneEmptyDirs("cam"),)


def test_a_partial_keeps_its_complete_fragments_under_its_final_name() -> None:
    # The crash came 3.4 s into a segment: 3 whole fragments, the fourth cut.
    previous = SegmentRef(1, "cam", T - 60_000, T - 10_000, T, 100, path(T - 10_000))
    cut = Fmp4Info(
        complete=False,
        problem="box 'mdat' at byte 4000 needs 900 bytes, file ends after 300 (truncated)",
        size=4300,
        init_bytes=700,
        duration_ms=3_000,
        keyframes=(Keyframe(0, 700), Keyframe(1000, 1800), Keyframe(2000, 2900)),
        fragments=3,
        valid_bytes=4000,
        video_codec="avc1.64001f",
        has_audio=True,
    )
    partial = Orphan(path(T) + ".partial", T, cut, previous=previous)
    plan = plan_reconcile(CameraFindings("cam", True, partials=(partial,)))
    (action, prune) = plan.actions
    assert isinstance(action, RecoverPartial) and prune == PruneEmptyDirs("cam")
    assert (action.partial, action.keep_bytes) == (path(T) + ".partial", 4000)
    seg = action.segment
    assert (seg.path, seg.start_ms, seg.end_ms, seg.bytes) == (path(T), T, T + 3_000, 4000)
    assert seg.run_start_ms == T - 60_000  # it continues the run of the segment before it
    assert seg.keyframes == cut.keyframes and seg.has_audio and seg.init_bytes == 700
    assert plan.tail == RunTail(T, T + 3_000, T - 60_000)


def test_a_partial_without_a_complete_fragment_is_discarded() -> None:
    header_only = Fmp4Info(
        complete=False,
        problem="no complete fragment",
        size=778,
        init_bytes=0,
        duration_ms=0,
        keyframes=(),
        fragments=0,
        valid_bytes=0,
        video_codec="avc1.64001f",
        has_audio=False,
    )
    partials = (
        Orphan(path(T) + ".partial", T, header_only),
        Orphan(path(T + 5) + ".partial", T + 5, None, error="permission denied"),
        Orphan(path(T + 9) + ".partial", T + 9, info(duration_ms=4_000_000)),
    )
    plan = plan_reconcile(CameraFindings("cam", True, partials=partials, last_chunk=False))
    assert plan.actions == tuple(DiscardPartial(p.path) for p in partials)


def test_quarantine_keeps_only_the_newest_files() -> None:
    names = ["a/300.mp4", "b/100.mp4", "a/200.mp4", "junk"]
    assert plan_quarantine_prune(names, keep=2) == (
        DeleteQuarantined("junk"),
        DeleteQuarantined("b/100.mp4"),
    )
    assert plan_quarantine_prune(names, keep=10) == ()
