"""Storage alarms and the circuit breaker: a pure function of usage as it is.

Retention first deletes what its plan says (retention.py); then the worker measures again
(statvfs, the index) and `plan_status` compares that with what is in force. Judging the
filesystem as it is, rather than usage projected by a plan, means a disk that another program
filled shows as full, and an alarm never says 80 % while writes fail with "no space left".

- Alarms look at the fullest budget as measured. A level is raised when crossed upward and
  cleared only `alarm_hysteresis_percent` below it.
- The breaker also counts the segments in flight (`reserve_bytes`): it opens when what is on
  disk plus what capture is writing now would reach `breaker_open_percent`, so those segments
  cannot take the disk past it, and closes once that sum is below `breaker_close_percent`.
  Since it is judged after every deletion retention could make, an open breaker means nothing
  more may be deleted: only hard protections and other programs' data are left.
"""

from __future__ import annotations

from dataclasses import dataclass

from recorder.storage.model import StorageUsage
from recorder.storage.retention import (
    Action,
    Budget,
    ClearAlarm,
    CloseCircuitBreaker,
    DiskCapacity,
    OpenCircuitBreaker,
    RaiseAlarm,
    RetentionPolicy,
    RetentionStatus,
    budgets,
    bytes_to_free,
)


@dataclass(frozen=True)
class StatusInputs:
    policy: RetentionPolicy
    status: RetentionStatus
    usage: StorageUsage
    disk: DiskCapacity
    reserve_bytes: int = 0  # the segments in flight (see RetentionInputs.reserve_bytes)


@dataclass(frozen=True)
class StatusPlan:
    actions: tuple[Action, ...]
    used_percent: float  # the fullest budget as measured
    budget: str  # which one: "quota" or "filesystem"
    committed_percent: float  # the fullest budget with the segments in flight


def plan_status(inputs: StatusInputs) -> StatusPlan:
    policy, status = inputs.policy, inputs.status
    used, budget = _fullest(budgets(policy, inputs.usage, inputs.disk))
    committed, committed_budget = _fullest(
        budgets(policy, inputs.usage, inputs.disk, inputs.reserve_bytes)
    )
    actions: list[Action] = []
    actions += _alarm_changes(policy, status, used, budget)
    actions += _breaker_changes(policy, status, committed, used, committed_budget)
    return StatusPlan(tuple(actions), used, budget, committed)


def wants_pass(inputs: StatusInputs, *, draining: bool) -> bool:
    """The cheap check between passes (a statvfs, no query): would a pass now delete, or
    change an alarm or the breaker? Another program filling the disk, or freeing it, is
    noticed within a watch interval instead of at the next pass."""
    marks = budgets(inputs.policy, inputs.usage, inputs.disk, inputs.reserve_bytes)
    return bytes_to_free(marks, draining=draining) > 0 or bool(plan_status(inputs).actions)


def _alarm_changes(
    policy: RetentionPolicy, status: RetentionStatus, percent: float, budget: str
) -> list[Action]:
    current = status.alarm_level
    crossed = max((lv for lv in policy.alarm_levels if percent >= lv), default=0)
    if crossed > current:
        return [RaiseAlarm(crossed, round(percent, 2), budget)]
    slack = policy.alarm_hysteresis_percent
    still = max(
        (lv for lv in policy.alarm_levels if lv <= current and percent >= lv - slack), default=0
    )
    if still < current:
        return [ClearAlarm(current, still, round(percent, 2))]
    return []


def _breaker_changes(
    policy: RetentionPolicy,
    status: RetentionStatus,
    committed: float,
    used: float,
    budget: str,
) -> list[Action]:
    """Decided on `committed` (with the segments in flight); the alert reports `used`, what
    the user can check with `df`."""
    if not status.breaker_open and committed >= policy.breaker_open_percent:
        return [OpenCircuitBreaker(round(used, 2), budget, round(committed, 2))]
    if status.breaker_open and committed < policy.breaker_close_percent:
        return [CloseCircuitBreaker(round(used, 2))]
    return []


def _fullest(budget_list: list[Budget]) -> tuple[float, str]:
    if not budget_list:
        return 0.0, ""
    best = max(budget_list, key=lambda b: b.percent())
    return best.percent(), best.name
