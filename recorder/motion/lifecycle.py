"""One camera's events, planned from its sources' activity. Pure: no I/O, no clock.

Sources (software analysis, ONVIF) report activity started / improved / ended. Here they become
events:
- an event is open while any source is active, and closes when the last one ends, dated at the
  latest last motion; a source starting while another is active joins the event;
- motion starting less than `cooldown_s` after the previous event's last motion reopens that
  event instead of opening a new one, so one flapping trigger does not make a burst of events
  (nor of notifications);
- an event open for `max_event_s` is closed and continued by a new one (a swaying tree must not
  make one endless event whose range is never final).
The executor (recorder.py) turns each `EventChange` into rows, protections, thumbnails and
notifications.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from recorder.motion.activity import (
    ActivityEnded,
    ActivityImproved,
    ActivityStarted,
    Sighting,
    Signal,
)


class ChangeKind(enum.Enum):
    OPENED = "opened"
    UPDATED = "updated"  # better sighting, new zone, or another source joined
    REOPENED = "reopened"  # motion came back within the cooldown
    CLOSED = "closed"


@dataclass(frozen=True)
class EventState:
    key: int  # the planner's number for the event; the executor maps it to a row id
    start: float
    end: float | None  # None while open
    sources: frozenset[str]  # every source that contributed
    best: Sighting
    zones: tuple[str, ...]
    last_motion: float


@dataclass(frozen=True)
class EventChange:
    kind: ChangeKind
    state: EventState
    best_changed: bool = False  # a new best sighting: refresh the thumbnail


class EventLifecycle:
    def __init__(self, *, cooldown_s: float = 10.0, max_event_s: float = 300.0) -> None:
        self.cooldown_s = cooldown_s
        self.max_event_s = max_event_s
        self._next_key = 1
        self._open: EventState | None = None
        self._active: set[str] = set()
        self._closed: EventState | None = None  # the last closed event, for the cooldown

    @property
    def open_event(self) -> EventState | None:
        return self._open

    def on_signal(self, source: str, signal: Signal) -> list[EventChange]:
        if isinstance(signal, ActivityStarted):
            return self._started(source, signal)
        if isinstance(signal, ActivityImproved):
            return self._improved(source, signal.best, signal.zones)
        return self._ended(source, signal)

    def tick(self, now: float) -> list[EventChange]:
        """Split an event that has lasted `max_event_s` (call every second or so)."""
        current = self._open
        if current is None or now - current.start < self.max_event_s:
            return []
        closed = replace(current, end=now, last_motion=now)
        self._closed = None  # the continuation is a new event, not a reopening
        follow = replace(
            current,
            key=self._take_key(),
            start=now,
            end=None,
            sources=frozenset(self._active),
            last_motion=now,
        )
        self._open = follow
        return [
            EventChange(ChangeKind.CLOSED, closed),
            EventChange(ChangeKind.OPENED, follow, best_changed=True),
        ]

    def _started(self, source: str, signal: ActivityStarted) -> list[EventChange]:
        self._active.add(source)
        current = self._open
        if current is not None:
            return self._joined(current, source, signal.best, signal.zones)
        previous = self._closed
        if previous is not None and signal.at - previous.last_motion < self.cooldown_s:
            better = _better(signal.best, previous.best)
            reopened = replace(
                previous,
                end=None,
                sources=previous.sources | {source},
                best=signal.best if better else previous.best,
                zones=_merge(previous.zones, signal.zones),
                last_motion=max(previous.last_motion, signal.best.at),
            )
            self._open, self._closed = reopened, None
            return [EventChange(ChangeKind.REOPENED, reopened, best_changed=better)]
        opened = EventState(
            key=self._take_key(),
            start=signal.at,
            end=None,
            sources=frozenset({source}),
            best=signal.best,
            zones=signal.zones,
            last_motion=signal.best.at,
        )
        self._open = opened
        return [EventChange(ChangeKind.OPENED, opened, best_changed=True)]

    def _joined(
        self, current: EventState, source: str, best: Sighting, zones: tuple[str, ...]
    ) -> list[EventChange]:
        better = _better(best, current.best)
        merged_zones = _merge(current.zones, zones)
        sources = current.sources | {source}
        if not better and merged_zones == current.zones and sources == current.sources:
            return []
        updated = replace(
            current,
            sources=sources,
            best=best if better else current.best,
            zones=merged_zones,
            last_motion=max(current.last_motion, best.at),
        )
        self._open = updated
        return [EventChange(ChangeKind.UPDATED, updated, best_changed=better)]

    def _improved(self, source: str, best: Sighting, zones: tuple[str, ...]) -> list[EventChange]:
        current = self._open
        if current is None or source not in self._active:
            return []
        return self._joined(current, source, best, zones)

    def _ended(self, source: str, signal: ActivityEnded) -> list[EventChange]:
        self._active.discard(source)
        current = self._open
        if current is None:
            return []
        last = max(current.last_motion, signal.at)
        if self._active:
            self._open = replace(current, last_motion=last)
            return []
        closed = replace(current, end=max(last, current.start), last_motion=last)
        self._open, self._closed = None, closed
        return [EventChange(ChangeKind.CLOSED, closed)]

    def _take_key(self) -> int:
        key = self._next_key
        self._next_key += 1
        return key


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(z for z in second if z not in first)


def _better(candidate: Sighting, best: Sighting) -> bool:
    """More of the frame moving wins; at equal score, a picture beats none (ONVIF sightings
    have no score, and their snapshot arrives after the start)."""
    if candidate.score != best.score:
        return candidate.score > best.score
    return candidate.frame is not None and best.frame is None
