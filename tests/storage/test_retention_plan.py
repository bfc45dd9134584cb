"""The retention planner on hand-built facts: no disk, no database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import pytest

from recorder.storage.index import SegmentRef
from recorder.storage.model import CameraUsage, Protection, StorageUsage
from recorder.storage.retention import (
    DAY_MS,
    Action,
    DeleteReason,
    DeleteSegments,
    DiskCapacity,
    GiveUpEventFootage,
    RetentionInputs,
    RetentionPolicy,
    RetentionStatus,
    Watermarks,
    plan_retention,
)

NOW = 1_700_000_000_000
S = 10_000
NO_STATUS = RetentionStatus()
BIG_DISK = DiskCapacity(total_bytes=10**15, free_bytes=10**15 - 10**6)  # never the limit


def segments(
    camera_id: str, first_id: int, count: int, *, start: int, size: int = 100
) -> list[SegmentRef]:
    return [
        SegmentRef(
            first_id + i,
            camera_id,
            start,
            start + i * S,
            start + (i + 1) * S,
            size,
            f"p{first_id + i}",
        )
        for i in range(count)
    ]


def usage_of(refs: Iterable[SegmentRef]) -> StorageUsage:
    per: dict[str, list[SegmentRef]] = {}
    for ref in refs:
        per.setdefault(ref.camera_id, []).append(ref)
    cams = tuple(
        CameraUsage(
            cam,
            sum(r.bytes for r in rs),
            len(rs),
            min(r.start_ms for r in rs),
            max(r.end_ms for r in rs),
        )
        for cam, rs in sorted(per.items())
    )
    return StorageUsage(total_bytes=sum(c.bytes for c in cams), per_camera=cams)


def oldest_first(refs: Iterable[SegmentRef]) -> tuple[SegmentRef, ...]:
    return tuple(sorted(refs, key=lambda r: (r.start_ms, r.id)))


def inputs(
    refs: Sequence[SegmentRef],
    *,
    policy: RetentionPolicy,
    disk: DiskCapacity = BIG_DISK,
    protections: tuple[Protection, ...] = (),
    status: RetentionStatus = NO_STATUS,
    expired: Sequence[SegmentRef] = (),
    usage: StorageUsage | None = None,
) -> RetentionInputs:
    return RetentionInputs(
        now_ms=NOW,
        policy=policy,
        usage=usage or usage_of(refs),
        disk=disk,
        protections=protections,
        expired=tuple(expired),
        oldest=oldest_first(refs),
        status=status,
    )


def deleted(actions: Iterable[Action], reason: DeleteReason | None = None) -> list[int]:
    return [
        i
        for a in actions
        if isinstance(a, DeleteSegments) and (reason is None or a.reason is reason)
        for i in a.segment_ids
    ]


def others(actions: Iterable[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, DeleteSegments)]


# -- age ------------------------------------------------------------------------------------


def test_segments_past_their_cameras_retention_are_deleted() -> None:
    week_ago = NOW - 7 * DAY_MS
    a = segments("a", 1, 4, start=week_ago - 2 * S - 5_000)  # ends: -15 s, -5 s, +5 s, +15 s
    b = segments("b", 100, 4, start=week_ago - 2 * S)  # camera b keeps everything
    policy = RetentionPolicy(retention_days={"a": 7, "b": None})
    plan = plan_retention(inputs(a + b, policy=policy, expired=a + b))
    # Only a's segments that ended before the cutoff go; the one straddling it stays.
    assert deleted(plan.actions, DeleteReason.AGE) == [1, 2]
    assert deleted(plan.actions, DeleteReason.SPACE) == []
    assert plan.final


def test_default_retention_applies_to_cameras_missing_from_the_policy() -> None:
    old = segments("gone", 1, 2, start=NOW - 40 * DAY_MS)
    plan = plan_retention(
        inputs(old, policy=RetentionPolicy(default_retention_days=30), expired=old)
    )
    assert deleted(plan.actions, DeleteReason.AGE) == [1, 2]


# -- space ----------------------------------------------------------------------------------


def test_above_high_water_deletes_oldest_until_low_water() -> None:
    refs = segments("a", 1, 95, start=NOW - DAY_MS)  # 9,500 bytes of a 10,000 quota: 95 %
    plan = plan_retention(inputs(refs, policy=RetentionPolicy(quota_bytes=10_000)))
    assert deleted(plan.actions, DeleteReason.SPACE) == list(range(1, 11))  # down to 85 %
    assert plan.projected_percent == pytest.approx(85.0)
    space = next(a for a in plan.actions if isinstance(a, DeleteSegments))
    assert space.bytes == 1000


def test_between_the_marks_nothing_is_deleted() -> None:
    refs = segments("a", 1, 88, start=NOW - DAY_MS)  # 88 %: below high, above low
    plan = plan_retention(inputs(refs, policy=RetentionPolicy(quota_bytes=10_000)))
    assert deleted(plan.actions) == []


def test_segments_in_flight_count_so_usage_stays_below_high_water_when_they_land() -> None:
    refs = segments("a", 1, 85, start=NOW - DAY_MS)  # 85 % indexed: below high water...
    policy = RetentionPolicy(quota_bytes=10_000)
    assert deleted(plan_retention(inputs(refs, policy=policy)).actions) == []
    # ...but 1,000 bytes are being written: once indexed they would make 95 %.
    plan = plan_retention(replace(inputs(refs, policy=policy), reserve_bytes=1_000))
    assert deleted(plan.actions, DeleteReason.SPACE) == list(range(1, 11))
    assert plan.projected_percent == pytest.approx(85.0)  # in-flight bytes included


def test_deletion_started_above_high_water_continues_to_low_water() -> None:
    refs = segments("a", 1, 88, start=NOW - DAY_MS)  # 88 %: between the marks...
    policy = RetentionPolicy(quota_bytes=10_000)
    plan = plan_retention(inputs(refs, policy=policy, status=RetentionStatus(draining=True)))
    # ... but an earlier round started draining: it goes on down to 85 %, then stops.
    assert deleted(plan.actions) == [1, 2, 3]
    assert not plan.draining
    window = replace(
        inputs(refs, policy=RetentionPolicy(quota_bytes=10_000)),
        usage=usage_of(segments("a", 1, 95, start=NOW - DAY_MS)),
        oldest=oldest_first(refs)[:2],
        oldest_exhausted=False,
    )
    assert plan_retention(window).draining  # 2 of the 10 needed: not there yet


def test_age_deletions_count_toward_the_space_goal() -> None:
    old = segments("a", 1, 5, start=NOW - 10 * DAY_MS, size=200)  # 1,000 bytes, expired
    recent = segments("a", 10, 85, start=NOW - DAY_MS)  # 8,500 bytes
    policy = RetentionPolicy(retention_days={"a": 7}, quota_bytes=10_000)
    plan = plan_retention(inputs(old + recent, policy=policy, expired=old))
    assert deleted(plan.actions, DeleteReason.AGE) == [1, 2, 3, 4, 5]
    assert deleted(plan.actions, DeleteReason.SPACE) == []  # 95 % - 10 % = 85 %: done


def test_space_is_freed_fairly_by_time_across_cameras() -> None:
    # A 4K camera writes ten times the bytes of an SD one. Oldest-first across cameras cuts both
    # at the same instant, so both keep the same depth of history.
    hd = segments("hd", 1, 50, start=NOW - DAY_MS, size=1000)
    sd = segments("sd", 1000, 50, start=NOW - DAY_MS + 1, size=100)
    total = 50 * 1000 + 50 * 100
    plan = plan_retention(inputs(hd + sd, policy=RetentionPolicy(quota_bytes=int(total / 0.95))))
    gone = set(deleted(plan.actions))
    for camera in (hd, sd):
        kept_starts = [r.start_ms for r in camera if r.id not in gone]
        gone_starts = [r.start_ms for r in camera if r.id in gone]
        assert gone_starts and max(gone_starts) < min(kept_starts)
    hd_cut = min(r.start_ms for r in hd if r.id not in gone)
    sd_cut = min(r.start_ms for r in sd if r.id not in gone)
    assert abs(hd_cut - sd_cut) <= S


def test_protected_segments_are_never_deleted() -> None:
    refs = segments("a", 1, 95, start=NOW - 10 * DAY_MS)
    protections = (
        Protection("a", refs[0].start_ms + 1, refs[2].start_ms + 1, "event", NOW + 1),  # ids 1-3
        Protection("a", refs[5].start_ms, refs[6].start_ms, "clip"),  # id 6, permanent
        Protection("a", refs[3].start_ms, refs[5].start_ms, "expired", NOW),  # no longer active
    )
    policy = RetentionPolicy(retention_days={"a": 1}, quota_bytes=10_000)
    plan = plan_retention(inputs(refs, policy=policy, protections=protections, expired=refs))
    gone = set(deleted(plan.actions))
    assert gone.isdisjoint({1, 2, 3, 6})
    assert {4, 5, 7} <= gone


def test_other_data_filling_the_filesystem_triggers_deletion() -> None:
    refs = segments("a", 1, 100, start=NOW - DAY_MS, size=10)  # recordings: only 1,000 bytes
    disk = DiskCapacity(total_bytes=10_000, free_bytes=800)  # someone else wrote 8,200
    plan = plan_retention(inputs(refs, policy=RetentionPolicy(), disk=disk))
    assert deleted(plan.actions) == list(range(1, 71))  # 700 bytes: 92 % -> 85 %
    assert plan.projected_percent == pytest.approx(85.0)


def test_min_free_bytes_acts_as_a_high_water_mark() -> None:
    refs = segments("a", 1, 100, start=NOW - DAY_MS, size=10**9)
    disk = DiskCapacity(total_bytes=10**12, free_bytes=40 * 10**9)  # 96 %... with 40 GB free
    marks = Watermarks(high_percent=99, low_percent=98, min_free_bytes=50 * 10**9)
    plan = plan_retention(inputs(refs, policy=RetentionPolicy(marks=marks), disk=disk))
    # Below the floor by 10 GB, plus the 1 % band (10 GB) of hysteresis.
    assert len(deleted(plan.actions)) == 20


def test_a_truncated_window_defers_alarms_and_breaker() -> None:
    refs = segments("a", 1, 99, start=NOW - DAY_MS)
    window = replace(
        inputs(refs, policy=RetentionPolicy(quota_bytes=10_000)),
        oldest=oldest_first(refs)[:5],
        oldest_exhausted=False,
    )
    plan = plan_retention(window)
    assert deleted(plan.actions) == [1, 2, 3, 4, 5]
    assert not plan.final
    assert others(plan.actions) == []


def test_other_data_filling_the_disk_beyond_all_recordings_takes_them_all() -> None:
    refs = segments("a", 1, 10, start=NOW - DAY_MS, size=10)
    disk = DiskCapacity(total_bytes=10_000, free_bytes=200)  # 98 %, recordings only 1 %
    plan = plan_retention(inputs(refs, policy=RetentionPolicy(), disk=disk))
    assert deleted(plan.actions) == list(range(1, 11))  # overwrite-oldest frees what it can
    assert plan.final and plan.draining  # (the breaker is judged on the disk afterwards)


def test_planner_leaves_alarms_and_breaker_to_the_measured_status() -> None:
    refs = segments("a", 1, 97, start=NOW - DAY_MS)
    everything = (Protection("a", NOW - 2 * DAY_MS, NOW, "clip"),)
    plan = plan_retention(
        inputs(refs, policy=RetentionPolicy(quota_bytes=10_000), protections=everything)
    )
    assert plan.actions == ()  # nothing deletable; alarms.plan_status says what that means


# -- what gives way: event footage, oldest first ------------------------------------------


def event(camera_id: str, start_ms: int, end_ms: int, event_id: int = 1) -> Protection:
    return Protection(camera_id, start_ms, end_ms, f"event:{event_id}", NOW + 30 * DAY_MS)


def with_yielding(base: RetentionInputs, refs: Sequence[SegmentRef]) -> RetentionInputs:
    """The worker's windows: `oldest` without protected segments, `yielding` without those
    hard protections cover (the planner checks both again)."""
    return replace(base, yielding=oldest_first(refs))


def test_event_footage_goes_oldest_first_when_nothing_else_is_left() -> None:
    # Two cameras, every segment inside an event (pre- and post-roll): 95 % of the quota.
    a = segments("a", 1, 50, start=NOW - DAY_MS)
    b = segments("b", 100, 45, start=NOW - DAY_MS + 5)
    protections = (
        event("a", NOW - DAY_MS, NOW, 1),
        event("b", NOW - DAY_MS, NOW, 2),
    )
    base = inputs([], policy=RetentionPolicy(quota_bytes=10_000), usage=usage_of(a + b))
    plan = plan_retention(with_yielding(replace(base, protections=protections), a + b))
    # Down to 85 %: 1,000 bytes, the ten oldest across both cameras (equal depth).
    oldest_ten = [1, 100, 2, 101, 3, 102, 4, 103, 5, 104]
    assert deleted(plan.actions, DeleteReason.EVENT_SPACE) == oldest_ten
    assert deleted(plan.actions, DeleteReason.SPACE) == []
    given_up = [x for x in plan.actions if isinstance(x, GiveUpEventFootage)]
    assert given_up == [GiveUpEventFootage(10, 1000, a[0].start_ms, b[4].end_ms, ("a", "b"))]
    assert plan.projected_percent == pytest.approx(85.0)
    assert plan.final and not plan.draining


def test_continuous_footage_goes_before_any_event_footage() -> None:
    refs = segments("a", 1, 95, start=NOW - DAY_MS)  # 95 %
    # Events cover the 6 oldest segments and everything from the 10th on: only 4 are free.
    protections = (
        event("a", refs[0].start_ms, refs[5].end_ms, 1),
        event("a", refs[9].start_ms, NOW, 2),
    )
    unprotected = [r for r in refs if 7 <= r.id <= 9]
    base = replace(
        inputs(unprotected, policy=RetentionPolicy(quota_bytes=10_000), usage=usage_of(refs)),
        protections=protections,
    )
    plan = plan_retention(with_yielding(base, refs))
    # 1,000 bytes: the 3 unprotected first (newer though they are), then the 7 oldest events.
    assert deleted(plan.actions, DeleteReason.SPACE) == [7, 8, 9]
    assert deleted(plan.actions, DeleteReason.EVENT_SPACE) == [1, 2, 3, 4, 5, 6, 10]
    kinds = [type(x) for x in plan.actions]
    assert kinds == [DeleteSegments, DeleteSegments, GiveUpEventFootage]


def test_hard_protections_never_give_way() -> None:
    refs = segments("a", 1, 97, start=NOW - DAY_MS)
    protections = (
        Protection("a", refs[0].start_ms, refs[20].end_ms, "clip 4 export", NOW + 3_600_000),
        event("a", refs[0].start_ms, NOW),
    )
    base = replace(
        inputs([], policy=RetentionPolicy(quota_bytes=10_000), usage=usage_of(refs)),
        protections=protections,
    )
    plan = plan_retention(with_yielding(base, refs))
    gone = deleted(plan.actions, DeleteReason.EVENT_SPACE)
    assert gone == list(range(22, 34))  # 1,200 bytes after the 21 the export holds
    assert plan.final


def test_events_keep_their_footage_when_the_policy_says_so() -> None:
    refs = segments("a", 1, 97, start=NOW - DAY_MS)
    policy = RetentionPolicy(quota_bytes=10_000, events_yield_to_space=False)
    base = replace(
        inputs([], policy=policy, usage=usage_of(refs)),
        protections=(event("a", refs[0].start_ms, NOW),),
    )
    plan = plan_retention(with_yielding(base, refs))
    assert plan.actions == ()
    assert plan.final and plan.draining


def test_a_truncated_yielding_window_is_not_final() -> None:
    refs = segments("a", 1, 97, start=NOW - DAY_MS)
    base = replace(
        inputs([], policy=RetentionPolicy(quota_bytes=10_000), usage=usage_of(refs)),
        protections=(event("a", refs[0].start_ms, NOW),),
    )
    plan = plan_retention(replace(base, yielding=oldest_first(refs)[:5], yielding_exhausted=False))
    assert deleted(plan.actions, DeleteReason.EVENT_SPACE) == [1, 2, 3, 4, 5]
    assert not plan.final and plan.draining


def test_policies_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError):
        Watermarks(high_percent=80, low_percent=85)
    with pytest.raises(ValueError):
        RetentionPolicy(breaker_open_percent=90, breaker_close_percent=95)
    with pytest.raises(ValueError):
        RetentionPolicy(alarm_levels=(90, 80))
