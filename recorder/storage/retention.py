"""Retention planning: a pure function from facts to actions (see docs/design/retention.md).

No I/O here. The worker gathers the facts (usage from the index, statvfs numbers, protections
and bounded windows of candidate segments), `plan_retention` decides, the executor applies.

Capacity is judged against every *budget* that applies: the recordings quota (if configured),
counted from the index, and the filesystem, counted by statvfs (which sees other data too).
Deletion starts when any budget is above its high-water mark and frees, until every budget is at
or below its low-water mark: first the oldest unprotected segments across all cameras, then,
when those are gone and the policy lets events yield (the default), the oldest segments that
only events protect. New video wins over old; only hard protections (a clip being exported, one
an operator added) are never deleted. Alarms and the breaker are judged afterwards, on the
filesystem as it is (alarms.py).
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from recorder.storage.index import SegmentRef
from recorder.storage.model import Protection, StorageUsage

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Watermarks:
    high_percent: float = 90.0
    """Above this usage of a budget, space-driven deletion starts (default 90)."""
    low_percent: float = 85.0
    """Space-driven deletion stops at or below this usage (default 85)."""
    min_free_bytes: int = 0
    """Filesystem only: less free than this counts as above high water (default 0: off)."""

    def __post_init__(self) -> None:
        if not 0 < self.low_percent < self.high_percent <= 100:
            raise ValueError("need 0 < low_percent < high_percent <= 100")
        if self.min_free_bytes < 0:
            raise ValueError("min_free_bytes must not be negative")


@dataclass(frozen=True)
class RetentionPolicy:
    retention_days: Mapping[str, float | None] = field(default_factory=dict)
    """Days to keep per camera id; None: no age limit."""
    default_retention_days: float | None = None
    """For cameras not in `retention_days` (e.g. removed from the config) (default: no limit)."""
    quota_bytes: int | None = None
    """Optional cap on the bytes of recordings (default: none, the filesystem is the limit)."""
    motion_only: Mapping[str, int] = field(default_factory=dict)
    """Cameras recording in "motion" mode -> grace in ms: a segment of theirs that no active
    protection (event range plus rolls, clip) covers is deleted once it ended this long ago
    (default: no camera; see recorder.motion.service.motion_only_retention)."""
    marks: Watermarks = Watermarks()
    events_yield_to_space: bool = True
    """When nothing unprotected is left to delete, delete the oldest event footage rather than
    stop recording (default). False: events keep their footage until they expire, and
    recording pauses (the breaker) when only they are left."""
    alarm_levels: tuple[int, ...] = (80, 90, 95)
    """Usage percents at which a storage alarm is raised (default 80, 90, 95)."""
    alarm_hysteresis_percent: float = 2.0
    """An alarm clears only this far below its level, so usage hovering there cannot flap."""
    breaker_open_percent: float = 95.0
    """Stop writing when usage stays at or above this after every possible deletion."""
    breaker_close_percent: float = 92.0
    """Resume writing once usage is below this (default 92)."""

    def __post_init__(self) -> None:
        if self.breaker_close_percent >= self.breaker_open_percent:
            raise ValueError("breaker_close_percent must be below breaker_open_percent")
        if list(self.alarm_levels) != sorted(set(self.alarm_levels)):
            raise ValueError("alarm_levels must be increasing")

    def uneventful_cutoff_ms(self, camera_id: str, now_ms: int) -> int | None:
        """For a motion-only camera: unprotected segments ending at or before this go."""
        grace = self.motion_only.get(camera_id)
        return None if grace is None else now_ms - grace

    def cutoff_ms(self, camera_id: str, now_ms: int) -> int | None:
        """Segments ending at or before this are past the camera's retention; None: keep."""
        days = self.retention_days.get(camera_id, self.default_retention_days)
        return None if days is None else now_ms - int(days * DAY_MS)


@dataclass(frozen=True)
class DiskCapacity:
    """statvfs facts of the filesystem holding the recordings."""

    total_bytes: int
    free_bytes: int  # available to the recorder (f_bavail), not counting root's reserve


@dataclass(frozen=True)
class RetentionStatus:
    """What the previous plans left in force; the planner only emits changes to it."""

    alarm_level: int = 0
    breaker_open: bool = False
    draining: bool = False  # a space deletion started above high water has not reached low yet


@dataclass(frozen=True)
class RetentionInputs:
    now_ms: int
    policy: RetentionPolicy
    usage: StorageUsage
    disk: DiskCapacity
    protections: tuple[Protection, ...] = ()
    expired: tuple[SegmentRef, ...] = ()
    """Oldest segments of cameras with an age limit that end before their cutoff (a window)."""
    expired_exhausted: bool = True
    """False when more expired segments exist than `expired` holds."""
    uneventful: tuple[SegmentRef, ...] = ()
    """Oldest unprotected segments of motion-only cameras that ended before their grace (a
    window)."""
    uneventful_exhausted: bool = True
    """False when more such segments exist than `uneventful` holds."""
    oldest: tuple[SegmentRef, ...] = ()
    """Oldest segments across all cameras, in (start_ms, id) order (a window)."""
    oldest_exhausted: bool = True
    """False when more segments exist after the last one of `oldest`."""
    yielding: tuple[SegmentRef, ...] = ()
    """Oldest segments that no hard protection covers (unprotected or only event-protected),
    in (start_ms, id) order (a window); gathered only once `oldest` is exhausted short of the
    goal and events yield."""
    yielding_exhausted: bool = True
    """False when more such segments exist after the last one of `yielding`."""
    status: RetentionStatus = RetentionStatus()
    reserve_bytes: int = 0
    """Bytes being written now (the segments in flight): counted as used, so that usage stays
    below high water even at the moment they are indexed."""


class DeleteReason(enum.Enum):
    AGE = "age"
    SPACE = "space"
    NO_EVENT = "no_event"  # motion-only camera: no event (plus pre/post-roll) covers it
    EVENT_SPACE = "event_space"  # for space, once nothing unprotected was left: event footage


@dataclass(frozen=True)
class DeleteSegments:
    segment_ids: tuple[int, ...]
    reason: DeleteReason
    bytes: int


@dataclass(frozen=True)
class GiveUpEventFootage:
    """Event footage deleted for space (follows its `DeleteSegments`): the alarm that says what
    was given up, and the audit entry."""

    segments: int
    bytes: int
    start_ms: int  # the oldest deleted segment's start
    end_ms: int  # the newest deleted segment's end
    camera_ids: tuple[str, ...]


@dataclass(frozen=True)
class RaiseAlarm:
    level: int  # the highest alarm level now crossed: 80, 90 or 95
    used_percent: float
    budget: str  # "quota" or "filesystem": which one is fullest


@dataclass(frozen=True)
class ClearAlarm:
    level: int  # the level that no longer holds
    remaining_level: int  # the level still in force (0: none)
    used_percent: float


@dataclass(frozen=True)
class OpenCircuitBreaker:
    used_percent: float  # as measured
    budget: str
    committed_percent: float = 0.0  # with the segments being written: what opened it


@dataclass(frozen=True)
class CloseCircuitBreaker:
    used_percent: float


Action = (
    DeleteSegments
    | GiveUpEventFootage
    | RaiseAlarm
    | ClearAlarm
    | OpenCircuitBreaker
    | CloseCircuitBreaker
)


@dataclass(frozen=True)
class RetentionPlan:
    actions: tuple[Action, ...]
    used_percent: float  # fullest budget now
    projected_percent: float  # fullest budget once this plan's deletions are done
    final: bool  # False: a window ran out before the goal; execute, then plan again
    draining: bool  # low water not reached yet: keep deleting next time even below high water

    @property
    def deletions(self) -> tuple[DeleteSegments, ...]:
        return tuple(a for a in self.actions if isinstance(a, DeleteSegments))


@dataclass(frozen=True)
class Budget:
    name: str
    capacity: int
    used: int
    high_used: int  # deletion starts above this
    low_used: int  # and stops at or below this

    def percent(self, freed: int = 0) -> float:
        return 100.0 * max(self.used - freed, 0) / self.capacity if self.capacity > 0 else 100.0


def budgets(
    policy: RetentionPolicy, usage: StorageUsage, disk: DiskCapacity, reserve_bytes: int = 0
) -> list[Budget]:
    marks = policy.marks
    out = []
    if policy.quota_bytes is not None:
        cap = policy.quota_bytes
        # Garbage files are still on disk until unlinked: the quota counts them.
        used = usage.total_bytes + usage.garbage_bytes + reserve_bytes
        out.append(
            Budget("quota", cap, used, _at(cap, marks.high_percent), _at(cap, marks.low_percent))
        )
    if disk.total_bytes > 0:
        cap = disk.total_bytes
        high = min(_at(cap, marks.high_percent), cap - marks.min_free_bytes)
        # Keep the same hysteresis band below the free-space floor as between the percents.
        band = _at(cap, marks.high_percent) - _at(cap, marks.low_percent)
        low = min(_at(cap, marks.low_percent), high - band)
        used = cap - disk.free_bytes + reserve_bytes
        out.append(Budget("filesystem", cap, used, max(high, 0), max(low, 0)))
    return out


def bytes_to_free(budget_list: Iterable[Budget], *, draining: bool = False) -> int:
    """Bytes to delete to bring every budget to its low-water mark, once any went above high
    water (`draining` says one did, earlier). Otherwise 0: between the marks we wait, and that
    gap is the hysteresis that makes deletion come in batches rather than one file per write."""
    chosen = list(budget_list)
    if not (draining or any(b.used > b.high_used for b in chosen)):
        return 0
    return max((b.used - b.low_used for b in chosen), default=0)


def plan_retention(inputs: RetentionInputs) -> RetentionPlan:
    policy, now = inputs.policy, inputs.now_ms
    guard = _ProtectionGuard(inputs.protections, now)
    chosen: set[int] = set()
    actions: list[Action] = []

    age_ids, age_bytes = [], 0
    for ref in inputs.expired:
        cutoff = policy.cutoff_ms(ref.camera_id, now)
        if cutoff is None or ref.end_ms > cutoff or ref.id in chosen or guard.covers(ref):
            continue
        chosen.add(ref.id)
        age_ids.append(ref.id)
        age_bytes += ref.bytes
    if age_ids:
        actions.append(DeleteSegments(tuple(age_ids), DeleteReason.AGE, age_bytes))

    # Motion-only cameras keep what events cover; the rest goes once past the grace, which
    # leaves time for an event starting now to protect its pre-roll.
    quiet_ids, quiet_bytes = [], 0
    for ref in inputs.uneventful:
        cutoff = policy.uneventful_cutoff_ms(ref.camera_id, now)
        if cutoff is None or ref.end_ms > cutoff or ref.id in chosen or guard.covers(ref):
            continue
        chosen.add(ref.id)
        quiet_ids.append(ref.id)
        quiet_bytes += ref.bytes
    if quiet_ids:
        actions.append(DeleteSegments(tuple(quiet_ids), DeleteReason.NO_EVENT, quiet_bytes))
    age_bytes += quiet_bytes  # both count toward the space goal

    budget_list = budgets(policy, inputs.usage, inputs.disk, inputs.reserve_bytes)
    need = bytes_to_free(budget_list, draining=inputs.status.draining) - age_bytes
    space_ids, space_bytes = [], 0
    for ref in inputs.oldest:
        if space_bytes >= need:
            break
        if ref.id in chosen or guard.covers(ref):
            continue
        chosen.add(ref.id)
        space_ids.append(ref.id)
        space_bytes += ref.bytes
    if space_ids:
        actions.append(DeleteSegments(tuple(space_ids), DeleteReason.SPACE, space_bytes))

    # New video wins over old: with nothing unprotected left, the oldest event footage goes.
    event_refs: list[SegmentRef] = []
    event_bytes = 0
    if policy.events_yield_to_space and space_bytes < need and inputs.oldest_exhausted:
        hard = _ProtectionGuard((p for p in inputs.protections if not p.yields_to_space), now)
        for ref in inputs.yielding:
            if space_bytes + event_bytes >= need:
                break
            if ref.id in chosen or hard.covers(ref):
                continue
            chosen.add(ref.id)
            event_refs.append(ref)
            event_bytes += ref.bytes
    if event_refs:
        ids = tuple(ref.id for ref in event_refs)
        actions.append(DeleteSegments(ids, DeleteReason.EVENT_SPACE, event_bytes))
        actions.append(_given_up(event_refs, event_bytes))
    space_bytes += event_bytes

    freed = age_bytes + space_bytes
    yielding_done = not policy.events_yield_to_space or inputs.yielding_exhausted
    final = (
        inputs.expired_exhausted
        and inputs.uneventful_exhausted
        and (space_bytes >= need or (inputs.oldest_exhausted and yielding_done))
    )
    used_pct, _ = _fullest(budget_list, 0)
    projected, _ = _fullest(budget_list, freed)
    draining = need - space_bytes > 0
    return RetentionPlan(tuple(actions), used_pct, projected, final, draining)


def _given_up(refs: list[SegmentRef], size: int) -> GiveUpEventFootage:
    return GiveUpEventFootage(
        segments=len(refs),
        bytes=size,
        start_ms=min(ref.start_ms for ref in refs),
        end_ms=max(ref.end_ms for ref in refs),
        camera_ids=tuple(sorted({ref.camera_id for ref in refs})),
    )


def _fullest(budget_list: list[Budget], freed: int) -> tuple[float, str]:
    if not budget_list:
        return 0.0, ""
    best = max(budget_list, key=lambda b: b.percent(freed))
    return best.percent(freed), best.name


def _at(capacity: int, percent: float) -> int:
    return int(capacity * percent / 100)


class _ProtectionGuard:
    """Answers "does an active protection overlap this segment?" in O(log n) per segment."""

    def __init__(self, protections: Iterable[Protection], now_ms: int) -> None:
        spans: dict[str, list[tuple[int, int]]] = {}
        for p in protections:
            if p.expires_ms is None or p.expires_ms > now_ms:
                spans.setdefault(p.camera_id, []).append((p.start_ms, p.end_ms))
        # Merge overlapping ranges so that, sorted by start, ends are increasing too: then only
        # the last range starting before a segment's end can overlap it.
        self._merged: dict[str, tuple[list[int], list[int]]] = {}
        for camera_id, ranges in spans.items():
            starts: list[int] = []
            ends: list[int] = []
            for start, end in sorted(ranges):
                if ends and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)
                else:
                    starts.append(start)
                    ends.append(end)
            self._merged[camera_id] = (starts, ends)

    def covers(self, ref: SegmentRef) -> bool:
        merged = self._merged.get(ref.camera_id)
        if merged is None:
            return False
        starts, ends = merged
        i = bisect.bisect_left(starts, ref.end_ms) - 1
        return i >= 0 and ends[i] > ref.start_ms
