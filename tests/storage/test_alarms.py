"""Alarms and the circuit breaker on measured usage (alarms.py): no disk, no database."""

from __future__ import annotations

import pytest

from recorder.storage.alarms import StatusInputs, plan_status, wants_pass
from recorder.storage.model import CameraUsage, StorageUsage
from recorder.storage.retention import (
    Action,
    ClearAlarm,
    CloseCircuitBreaker,
    DiskCapacity,
    OpenCircuitBreaker,
    RaiseAlarm,
    RetentionPolicy,
    RetentionStatus,
    Watermarks,
)

NOW = 1_700_000_000_000
BIG_DISK = DiskCapacity(total_bytes=10**15, free_bytes=10**15 - 10**6)  # never the limit
QUOTA = RetentionPolicy(quota_bytes=1000, marks=Watermarks(high_percent=99.9, low_percent=99))


def used(size: int) -> StorageUsage:
    return StorageUsage(total_bytes=size, per_camera=(CameraUsage("a", size, 1, NOW, NOW + 1),))


def status_of(
    percent: float,
    *,
    level: int = 0,
    breaker_open: bool = False,
    policy: RetentionPolicy = QUOTA,
    reserve: int = 0,
    disk: DiskCapacity = BIG_DISK,
) -> StatusInputs:
    return StatusInputs(
        policy,
        RetentionStatus(alarm_level=level, breaker_open=breaker_open),
        used(round(percent * 10)),
        disk,
        reserve,
    )


@pytest.mark.parametrize(
    ("level", "percent", "expected"),
    [
        (0, 79.9, []),
        (0, 80.0, [RaiseAlarm(80, 80.0, "quota")]),
        (0, 89.0, [RaiseAlarm(80, 89.0, "quota")]),
        (80, 84.0, []),  # raised once, not again
        (80, 79.0, []),  # within the 2 % hysteresis
        (80, 77.9, [ClearAlarm(80, 0, 77.9)]),
        (90, 87.0, [ClearAlarm(90, 80, 87.0)]),
        (95, 70.0, [ClearAlarm(95, 0, 70.0)]),
    ],
)
def test_alarm_levels_are_raised_crossing_up_and_cleared_below(
    level: int, percent: float, expected: list[Action]
) -> None:
    plan = plan_status(status_of(percent, level=level))
    assert [a for a in plan.actions if isinstance(a, RaiseAlarm | ClearAlarm)] == expected


@pytest.mark.parametrize(
    ("level", "percent", "raised"), [(0, 91.0, 90), (0, 96.0, 95), (80, 90.5, 90), (90, 95.0, 95)]
)
def test_alarm_jumps_straight_to_the_highest_level_crossed(
    level: int, percent: float, raised: int
) -> None:
    plan = plan_status(status_of(percent, level=level))
    assert [a.level for a in plan.actions if isinstance(a, RaiseAlarm)] == [raised]


def test_breaker_opens_at_95_and_closes_below_92() -> None:
    plan = plan_status(status_of(97))
    assert OpenCircuitBreaker(97.0, "quota", 97.0) in plan.actions
    assert RaiseAlarm(95, 97.0, "quota") in plan.actions
    # Still 93 %: above the close threshold, stays open.
    plan = plan_status(status_of(93, level=95, breaker_open=True))
    assert not any(isinstance(a, CloseCircuitBreaker | OpenCircuitBreaker) for a in plan.actions)
    plan = plan_status(status_of(85, level=95, breaker_open=True))
    assert CloseCircuitBreaker(85.0) in plan.actions
    assert ClearAlarm(95, 80, 85.0) in plan.actions


def test_a_full_disk_shows_as_full_whatever_the_recordings_use() -> None:
    # Another program filled the disk: recordings hold 1 % of it, statvfs says 100 % used.
    disk = DiskCapacity(total_bytes=10_000, free_bytes=0)
    plan = plan_status(status_of(1, policy=RetentionPolicy(), disk=disk, level=80))
    assert plan.used_percent == 100.0 and plan.budget == "filesystem"
    assert RaiseAlarm(95, 100.0, "filesystem") in plan.actions
    assert OpenCircuitBreaker(100.0, "filesystem", 100.0) in plan.actions


def test_segments_in_flight_open_the_breaker_but_never_inflate_the_percent() -> None:
    # 90 % on disk and 60 bytes being written: they would take it to 96 % when they land.
    plan = plan_status(status_of(90, reserve=60))
    assert plan.used_percent == 90.0 and plan.committed_percent == pytest.approx(96.0)
    assert OpenCircuitBreaker(90.0, "quota", 96.0) in plan.actions
    assert RaiseAlarm(90, 90.0, "quota") in plan.actions  # the alarm says what is there


def test_watch_asks_for_a_pass_when_the_disk_fills_or_frees() -> None:
    policy = RetentionPolicy()
    quiet = status_of(0, policy=policy, disk=DiskCapacity(10_000, 5_000))
    assert not wants_pass(quiet, draining=False)
    filled = status_of(0, policy=policy, disk=DiskCapacity(10_000, 500))  # 95 %: above high
    assert wants_pass(filled, draining=False)
    freed = status_of(
        0, policy=policy, disk=DiskCapacity(10_000, 9_000), level=95, breaker_open=True
    )
    assert wants_pass(freed, draining=False)  # space is back: close the breaker now
