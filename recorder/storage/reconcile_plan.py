"""Start-up reconciliation, the pure half: from what the scan found to what to do.

The scanner (reconcile.py) compares one camera's files with its index rows and inspects the
files the index does not know; `plan_reconcile` decides each one's fate:

- a complete segment file without a row is indexed (a crash between rename and insert);
- a row without a file is dropped (a crash between unlink and clearing, or a lost disk);
- a `.partial` file is the segment a crash interrupted: its complete fragments (moof+mdat pairs)
  are valid video, so it is cut after the last one and indexed under its final name; one
  without a complete fragment is deleted. A crash so loses at most the fragment in flight;
- a final file that fails validation is moved to the quarantine directory, not indexed. The
  write order (fsync, then rename) means this should never happen; when it does, the disk or
  something outside the recorder damaged it, and the file is kept for a human to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recorder.storage.fmp4 import Fmp4Info
from recorder.storage.index import CONTIGUITY_TOLERANCE_MS, SegmentRef
from recorder.storage.layout import TEMP_SUFFIX
from recorder.storage.model import MAX_SEGMENT_DURATION_MS, NewSegment


@dataclass(frozen=True)
class Orphan:
    """A file the index does not know: a final segment file, or a `.partial` one."""

    path: str
    start_ms: int  # from the file name
    info: Fmp4Info | None  # None: the file could not be read
    error: str = ""  # why it could not be read
    previous: SegmentRef | None = None  # the newest indexed segment starting before it


@dataclass(frozen=True)
class CameraFindings:
    """One chunk of one camera's scan (chunks keep memory bounded on a huge index)."""

    camera_id: str
    camera_indexed: bool
    orphans: tuple[Orphan, ...] = ()
    missing: tuple[SegmentRef, ...] = ()  # rows whose file is confirmed gone
    partials: tuple[Orphan, ...] = ()  # `.partial` files, inspected like orphans
    last_chunk: bool = True


@dataclass(frozen=True)
class RunTail:
    """The newest segment planned so far, so the next orphan can join its run."""

    start_ms: int
    end_ms: int
    run_start_ms: int


@dataclass(frozen=True)
class EnsureCamera:
    camera_id: str


@dataclass(frozen=True)
class IndexOrphan:
    segment: NewSegment


@dataclass(frozen=True)
class DropMissingRows:
    segment_ids: tuple[int, ...]


@dataclass(frozen=True)
class DiscardPartial:
    path: str


@dataclass(frozen=True)
class RecoverPartial:
    """Cut `partial` to its complete fragments, make it durable under `segment.path`, index it."""

    partial: str
    keep_bytes: int
    segment: NewSegment


@dataclass(frozen=True)
class Quarantine:
    path: str
    reason: str


@dataclass(frozen=True)
class PruneEmptyDirs:
    camera_id: str


@dataclass(frozen=True)
class DeleteQuarantined:
    path: str  # relative to the quarantine directory


ReconcileAction = (
    EnsureCamera
    | IndexOrphan
    | DropMissingRows
    | DiscardPartial
    | RecoverPartial
    | Quarantine
    | PruneEmptyDirs
    | DeleteQuarantined
)


@dataclass(frozen=True)
class ReconcilePlan:
    actions: tuple[ReconcileAction, ...]
    tail: RunTail | None


def plan_reconcile(findings: CameraFindings, tail: RunTail | None = None) -> ReconcilePlan:
    """Actions for one chunk; `tail` carries the run chaining from the previous chunk."""
    actions: list[ReconcileAction] = []
    discards: list[ReconcileAction] = []
    needs_camera = not findings.camera_indexed
    # Partials sort with the final files so that a recovered one joins the run before it.
    found = [(o, False) for o in findings.orphans] + [(p, True) for p in findings.partials]
    for orphan, partial in sorted(found, key=lambda f: (f[0].start_ms, f[1])):
        problem = _why_unusable(orphan, partial=partial)
        if problem:
            if partial:
                discards.append(DiscardPartial(orphan.path))
            else:
                actions.append(Quarantine(orphan.path, problem))
            continue
        assert orphan.info is not None
        if needs_camera:
            actions.append(EnsureCamera(findings.camera_id))
            needs_camera = False
        info = orphan.info
        end_ms = orphan.start_ms + info.duration_ms
        run_start = _run_start(orphan, tail)
        segment = NewSegment(
            camera_id=findings.camera_id,
            run_start_ms=run_start,
            start_ms=orphan.start_ms,
            end_ms=end_ms,
            bytes=info.valid_bytes if partial else info.size,
            path=orphan.path.removesuffix(TEMP_SUFFIX),
            init_bytes=info.init_bytes,
            keyframes=info.keyframes,
            video_codec=info.video_codec,
            has_audio=info.has_audio,
        )
        if partial:
            actions.append(RecoverPartial(orphan.path, info.valid_bytes, segment))
        else:
            actions.append(IndexOrphan(segment))
        tail = RunTail(orphan.start_ms, end_ms, run_start)
    if findings.missing:
        actions.append(DropMissingRows(tuple(ref.id for ref in findings.missing)))
    actions += discards
    if findings.last_chunk:
        actions.append(PruneEmptyDirs(findings.camera_id))
    return ReconcilePlan(tuple(actions), tail)


def plan_quarantine_prune(names: Sequence[str], keep: int) -> tuple[DeleteQuarantined, ...]:
    """Keep the `keep` newest quarantined files (names sort by age: <camera>/<start_ms>.mp4
    compares by start within a camera, and we order by the start alone across cameras)."""
    by_age = sorted(names, key=_start_of_quarantined)
    return tuple(DeleteQuarantined(name) for name in by_age[: max(len(by_age) - keep, 0)])


def _start_of_quarantined(name: str) -> tuple[int, str]:
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return (int(stem) if stem.isdigit() else 0, name)


def _why_unusable(orphan: Orphan, *, partial: bool = False) -> str:
    info = orphan.info
    if info is None:
        return orphan.error or "unreadable"
    if partial and not info.fragments:
        return info.problem or "no complete fragment"
    if not (partial or info.complete):
        return info.problem
    if info.duration_ms <= 0:
        return "no media duration"
    if info.duration_ms > MAX_SEGMENT_DURATION_MS:
        return f"lasts {info.duration_ms} ms, longer than any segment we write"
    return ""


def _run_start(orphan: Orphan, tail: RunTail | None) -> int:
    """Join the run of the segment that ends where this one starts; else start a new run."""
    candidates = [
        RunTail(p.start_ms, p.end_ms, p.run_start_ms) for p in (orphan.previous,) if p is not None
    ]
    if tail is not None:
        candidates.append(tail)
    before = [c for c in candidates if c.start_ms < orphan.start_ms]
    if before:
        prev = max(before, key=lambda c: c.start_ms)
        if abs(orphan.start_ms - prev.end_ms) <= CONTIGUITY_TOLERANCE_MS:
            return prev.run_start_ms
    return orphan.start_ms
