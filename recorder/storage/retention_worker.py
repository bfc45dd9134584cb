"""Gather facts, plan (retention.py), execute: the thin I/O side of retention.

`RetentionWorker.run_once` may take several rounds: each plans from bounded windows of
candidates (never the whole index), executes, and re-reads usage, until the plan is final.
Then it measures again and plans alarms and the breaker on usage as it is (alarms.py). Between
passes, while cameras record or an alarm is up, it watches the filesystem with a bare statvfs
every `watch_interval_s`, so a disk filled or freed by another program is acted on at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from recorder.clock import Clock, pause
from recorder.storage.alarms import StatusInputs, plan_status, wants_pass
from recorder.storage.candidates import oldest_window, unprotected_gaps, unprotected_window
from recorder.storage.capacity import CapacityProbe
from recorder.storage.garbage import GarbageCollector, GarbageReport
from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import StorageUsage
from recorder.storage.retention import (
    Action,
    ClearAlarm,
    CloseCircuitBreaker,
    DeleteReason,
    DeleteSegments,
    DiskCapacity,
    GiveUpEventFootage,
    OpenCircuitBreaker,
    RaiseAlarm,
    RetentionInputs,
    RetentionPlan,
    RetentionPolicy,
    RetentionStatus,
    budgets,
    bytes_to_free,
    plan_retention,
)
from recorder.storage.state import AlertKind, StorageAlert, StorageState

log = logging.getLogger(__name__)

_HOUR_MS = 3_600_000
# Segments of every camera that may still land between a pass reading usage and the next pass
# deleting: the room a pass leaves, less this many, may be indexed before the next (see `poke`).
MARGIN_ROUNDS = 2


@dataclass
class RetentionReport:
    deleted: Counter[DeleteReason] = field(default_factory=Counter)  # segments per reason
    freed_bytes: int = 0
    kept_protected: int = 0  # planned, but a protection appeared before the delete
    garbage: GarbageReport = field(default_factory=GarbageReport)
    rounds: int = 0
    used_percent: float = 0.0  # fullest budget before the pass (with the segments in flight)
    projected_percent: float = 0.0  # as the last round planned it
    measured_percent: float = 0.0  # fullest budget measured after the deletions


class RetentionExecutor:
    """Applies a plan: deletions through the index's garbage flow, state changes to
    `StorageState` (which publishes the alerts)."""

    def __init__(self, index: SegmentIndex, collector: GarbageCollector, state: StorageState):
        self._index = index
        self._collector = collector
        self._state = state

    async def execute(
        self, actions: tuple[Action, ...], now_ms: int, report: RetentionReport
    ) -> None:
        deleted_events = 0  # event segments the last EVENT_SPACE deletion really removed
        for action in actions:
            if isinstance(action, DeleteSegments):
                yielding = action.reason is DeleteReason.EVENT_SPACE
                entries = await self._index.mark_garbage(
                    action.segment_ids, keep_protected_at_ms=now_ms, hard_only=yielding
                )
                if yielding:
                    deleted_events = len(entries)
                report.deleted[action.reason] += len(entries)
                report.kept_protected += len(action.segment_ids) - len(entries)
                # Hour directories are pruned only once their hour is well past: capture may
                # still be creating the current one.
                collected = await self._collector.collect(
                    entries, prune_dirs_before_ms=now_ms - _HOUR_MS
                )
                report.garbage += collected
                report.freed_bytes += collected.freed_bytes
            elif isinstance(action, GiveUpEventFootage):
                if deleted_events:  # (a hard protection may have appeared since planning)
                    self._state.publish(_given_up(action, deleted_events, self._state, now_ms))
            else:
                self._state.publish(_alert(action, self._state, now_ms))


def _given_up(
    action: GiveUpEventFootage, segments: int, state: StorageState, now_ms: int
) -> StorageAlert:
    text = (
        f"nothing else left to delete: {segments} segments ({action.bytes / 1e6:.1f} MB) of "
        f"event footage from {_utc(action.start_ms)} to {_utc(action.end_ms)} deleted on "
        f"{', '.join(action.camera_ids)} to keep recording"
    )
    detail = {
        "segments": segments,
        "bytes": action.bytes,
        "start_ms": action.start_ms,
        "end_ms": action.end_ms,
        "camera_ids": list(action.camera_ids),
    }
    level = state.alarm_level
    return StorageAlert(
        AlertKind.EVENTS_DELETED, level, level, state.used_percent, text, now_ms, detail
    )


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _alert(
    action: RaiseAlarm | ClearAlarm | OpenCircuitBreaker | CloseCircuitBreaker,
    state: StorageState,
    now_ms: int,
) -> StorageAlert:
    level = state.alarm_level
    if isinstance(action, RaiseAlarm):
        text = f"{action.budget} {action.used_percent:.1f}% full (alarm level {action.level}%)"
        return StorageAlert(
            AlertKind.RAISED, action.level, action.level, action.used_percent, text, now_ms
        )
    if isinstance(action, ClearAlarm):
        text = f"storage back to {action.used_percent:.1f}% (alarm {action.level}% cleared)"
        return StorageAlert(
            AlertKind.CLEARED,
            action.level,
            action.remaining_level,
            action.used_percent,
            text,
            now_ms,
        )
    if isinstance(action, OpenCircuitBreaker):
        text = (
            f"{action.budget} {action.used_percent:.1f}% full and nothing more can be deleted: "
            "recording paused"
        )
        if action.committed_percent > action.used_percent:
            text = (
                f"{action.budget} {action.used_percent:.1f}% full, "
                f"{min(action.committed_percent, 100):.1f}% with the segments being written, and "
                "nothing more can be deleted: recording paused"
            )
        return StorageAlert(
            AlertKind.BREAKER_OPENED, level, level, action.used_percent, text, now_ms
        )
    text = f"storage down to {action.used_percent:.1f}%: recording resumed"
    return StorageAlert(AlertKind.BREAKER_CLOSED, level, level, action.used_percent, text, now_ms)


class RetentionWorker:
    def __init__(
        self,
        *,
        index: SegmentIndex,
        layout: SegmentLayout,
        policy: RetentionPolicy,
        probe: CapacityProbe,
        state: StorageState,
        clock: Clock,
        interval_s: float = 30.0,
        min_interval_s: float = 1.0,
        watch_interval_s: float = 2.0,
        batch: int = 2000,
        max_rounds: int = 100,
        reserve: Callable[[], int] = lambda: 0,
    ) -> None:
        self._index = index
        self._policy = policy
        self._probe = probe
        self._state = state
        self._clock = clock
        self._interval_s = interval_s
        self._min_interval_s = min_interval_s
        self._watch_interval_s = watch_interval_s
        self._usage: StorageUsage | None = None  # as the last pass measured it
        self._gathered: StatusInputs | None = None  # what the last round gathered
        self._room: int | None = None  # bytes below the nearest high-water mark at the last pass
        self._reserve_seen = 0
        self._batch = batch
        self._max_rounds = max_rounds
        self._reserve = reserve  # bytes of the segments being written (see RetentionInputs)
        self._collector = GarbageCollector(index, layout)
        self._executor = RetentionExecutor(index, self._collector, state)
        self._poked = asyncio.Event()
        self._indexed = 0  # bytes of the segments indexed since the last pass began
        self._draining = False
        self.passes = 0  # passes done: progress a test can await

    def set_policy(self, policy: RetentionPolicy) -> None:
        """Cameras or their retention changed: plan with this from the next pass on."""
        self._policy = policy
        self.poke()

    def poke(self, indexed_bytes: int | None = None) -> None:
        """A segment of `indexed_bytes` was indexed, or (without bytes) something changed that a
        pass should see soon. Call on the event loop thread.

        Every segment pokes (1.6 times a second with 16 cameras), and a pass costs a dozen
        queries, so segments only count up: a pass runs once those indexed since the last one
        could fill the room it left below the nearest high-water mark, less `MARGIN_ROUNDS`
        segments of every camera for those in flight. Near a mark, or while draining, that is
        every segment; with room to spare, the pass every `interval_s` comes first."""
        if indexed_bytes is not None:
            self._indexed += indexed_bytes
            if self._indexed < self._budget():
                return
        self._poked.set()

    @property
    def pass_due(self) -> bool:
        """A poke asked for a pass that has not begun yet."""
        return self._poked.is_set()

    def _budget(self) -> float:
        """Bytes that may be indexed before the next pass, as the last pass left things."""
        if self._draining:
            return 0
        if self._room is None:  # no high-water mark applies: only age limits, on the interval
            return math.inf
        return self._room - MARGIN_ROUNDS * self._reserve_seen

    async def run_once(self) -> RetentionReport:
        """One full pass; raises on failure (the index or the filesystem)."""
        now_ms = int(self._clock.now() * 1000)
        report = RetentionReport()
        self._indexed = 0  # this pass reads usage with them
        self._poked.clear()
        report.garbage = await self._collector.finish_pending(
            prune_dirs_before_ms=now_ms - _HOUR_MS
        )
        await self._index.expire_protections(now_ms)
        while report.rounds < self._max_rounds:
            report.rounds += 1
            plan = await self.plan(now_ms)
            await self._executor.execute(plan.actions, now_ms, report)
            self._draining = plan.draining
            if report.rounds == 1:
                report.used_percent = plan.used_percent
            report.projected_percent = plan.projected_percent
            if plan.final or not plan.deletions:
                break
        # Alarms and the breaker: on what is there now, after the deletions.
        # When nothing was deleted, the facts the last round gathered are still the disk as it is.
        fresh = self._gathered if not any(report.deleted.values()) else None
        status = plan_status(fresh or await self._measure())
        await self._executor.execute(status.actions, now_ms, report)
        self._state.used_percent = report.measured_percent = round(status.used_percent, 2)
        if any(report.deleted.values()):
            log.info(
                "retention: deleted %d segments for age, %d outside events, %d for space "
                "(%d bytes); usage %.1f%%",
                report.deleted[DeleteReason.AGE],
                report.deleted[DeleteReason.NO_EVENT],
                report.deleted[DeleteReason.SPACE] + report.deleted[DeleteReason.EVENT_SPACE],
                report.freed_bytes,
                report.measured_percent,
            )
        self.passes += 1
        return report

    async def _measure(self) -> StatusInputs:
        usage = await self._index.usage()
        self._usage = usage
        disk = await asyncio.to_thread(self._probe.capacity)
        return self._status_inputs(usage, disk)

    def _status_inputs(self, usage: StorageUsage, disk: DiskCapacity) -> StatusInputs:
        state = self._state
        return StatusInputs(
            self._policy,
            RetentionStatus(state.alarm_level, state.breaker_open, self._draining),
            usage,
            disk,
            self._reserve(),
        )

    async def watch(self, seconds: float, shutdown: asyncio.Event) -> None:
        """Wait up to `seconds` for the next pass: return early when poked, or when a statvfs
        every `watch_interval_s` says a pass would act (see alarms.wants_pass). Only while
        cameras record (something could fail to be written) or the breaker or an alarm is in
        force (something waits for space to return): an idle recorder is not woken."""
        deadline = self._clock.monotonic() + seconds
        while not shutdown.is_set() and not self._poked.is_set():
            left = deadline - self._clock.monotonic()
            if left <= 0:
                return
            state = self._state
            watching = self._usage is not None and (
                self._reserve() > 0 or state.breaker_open or state.alarm_level > 0
            )
            step = min(left, self._watch_interval_s) if watching else left
            await self._pause(step, shutdown, wake=self._poked)
            if watching and self._usage is not None and not self._poked.is_set():
                disk = await asyncio.to_thread(self._probe.capacity)
                inputs = self._status_inputs(self._usage, disk)
                if wants_pass(inputs, draining=self._draining):
                    return

    async def plan(self, now_ms: int) -> RetentionPlan:
        """Gather the facts and plan one round (no side effects)."""
        return plan_retention(await self._gather(now_ms))

    async def run(self, shutdown: asyncio.Event) -> None:
        """Run passes every `interval_s` (or sooner when poked) until `shutdown` is set; a
        failing pass is retried with jittered exponential backoff, never ends the loop."""
        while not shutdown.is_set():
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential_jitter(initial=1, max=300),
                stop=lambda _state: shutdown.is_set(),
                sleep=lambda seconds: self._pause(seconds, shutdown),
                before_sleep=_log_failure,
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self.run_once()
            except Exception:
                if shutdown.is_set():
                    return
                raise
            await self._pause(self._min_interval_s, shutdown)
            await self.watch(self._interval_s, shutdown)

    async def _gather(self, now_ms: int) -> RetentionInputs:
        index, policy = self._index, self._policy
        usage = await index.usage()
        disk = await asyncio.to_thread(self._probe.capacity)
        protections = tuple(await index.protections(active_at_ms=now_ms))
        expired: list[SegmentRef] = []
        expired_exhausted = True
        for camera in usage.per_camera:
            cutoff = policy.cutoff_ms(camera.camera_id, now_ms)
            if cutoff is None or camera.oldest_ms is None or camera.oldest_ms >= cutoff:
                continue
            refs = await index.oldest_segments(
                limit=self._batch,
                camera_id=camera.camera_id,
                ending_by_ms=cutoff,
                unprotected_at_ms=now_ms,
            )
            expired += refs
            expired_exhausted = expired_exhausted and len(refs) < self._batch
        uneventful: list[SegmentRef] = []
        uneventful_exhausted = True
        for camera in usage.per_camera:
            cutoff = policy.uneventful_cutoff_ms(camera.camera_id, now_ms)
            if cutoff is None or camera.oldest_ms is None or camera.oldest_ms >= cutoff:
                continue
            refs = await index.oldest_segments(
                limit=self._batch,
                camera_id=camera.camera_id,
                ending_by_ms=cutoff,
                unprotected_at_ms=now_ms,
            )
            uneventful += refs
            uneventful_exhausted = uneventful_exhausted and len(refs) < self._batch
        reserve = self._reserve()
        self._usage = usage
        self._gathered = self._status_inputs(usage, disk)
        marks = budgets(policy, usage, disk, reserve)
        self._room = min((b.high_used - b.used for b in marks), default=None)
        self._reserve_seen = reserve
        need = bytes_to_free(marks, draining=self._draining)
        cameras = [camera.camera_id for camera in usage.per_camera]
        gaps = unprotected_gaps(protections, now_ms)
        oldest, oldest_exhausted = await unprotected_window(
            index, cameras, gaps, need=need, batch=self._batch
        )
        yielding: list[SegmentRef] = []
        yielding_exhausted = True
        short = need > sum(ref.bytes for ref in oldest)
        if policy.events_yield_to_space and oldest_exhausted and short:
            yielding, yielding_exhausted = await oldest_window(
                index, need, now_ms, batch=self._batch, hard_only=True
            )
        return RetentionInputs(
            now_ms=now_ms,
            policy=policy,
            usage=usage,
            disk=disk,
            protections=protections,
            expired=tuple(expired),
            expired_exhausted=expired_exhausted,
            uneventful=tuple(uneventful),
            uneventful_exhausted=uneventful_exhausted,
            oldest=tuple(oldest),
            oldest_exhausted=oldest_exhausted,
            yielding=tuple(yielding),
            yielding_exhausted=yielding_exhausted,
            status=RetentionStatus(
                self._state.alarm_level, self._state.breaker_open, self._draining
            ),
            reserve_bytes=reserve,
        )

    async def _pause(
        self, seconds: float, shutdown: asyncio.Event, wake: asyncio.Event | None = None
    ) -> None:
        """Sleep on the clock, cut short by shutdown (or `wake`)."""
        await pause(self._clock, seconds, shutdown, *([wake] if wake is not None else []))


def _log_failure(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.error("retention pass failed (attempt %d), retrying in %.0f s: %s",
              state.attempt_number, wait, exc, exc_info=exc)  # fmt: skip
