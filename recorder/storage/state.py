"""What retention tells the rest of the recorder: may we write, and how full are we.

Capture workers read `writable` before opening each segment (a plain attribute read, safe from
any thread). The API subscribes to `StorageAlert`s to broadcast them. Only the retention
executor changes this object, on the event loop.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recorder.errors import StorageFull

log = logging.getLogger(__name__)


class AlertKind(enum.Enum):
    RAISED = "raised"
    CLEARED = "cleared"
    BREAKER_OPENED = "breaker_opened"
    BREAKER_CLOSED = "breaker_closed"
    EVENTS_DELETED = "events_deleted"  # event footage given up for space (detail says which)


@dataclass(frozen=True)
class StorageAlert:
    kind: AlertKind
    level: int  # the alarm level raised or cleared; for breaker alerts, the level in force
    alarm_level: int  # the level in force after this alert (0: none)
    used_percent: float
    message: str
    at_ms: int
    detail: dict[str, Any] = field(default_factory=dict)  # events_deleted: what was given up


class StorageState:
    def __init__(self) -> None:
        self.breaker_open = False
        self.alarm_level = 0
        self.used_percent = 0.0
        self._queues: list[asyncio.Queue[StorageAlert]] = []
        self._listeners: list[Callable[[StorageAlert], None]] = []

    @property
    def writable(self) -> bool:
        """False while the circuit breaker is open: do not start a new segment."""
        return not self.breaker_open

    def check_writable(self) -> None:
        if self.breaker_open:
            raise StorageFull(
                f"storage {self.used_percent:.1f}% full and nothing more can be deleted "
                "(protected recordings or other data): recording is paused"
            )

    def subscribe(self, maxsize: int = 100) -> asyncio.Queue[StorageAlert]:
        """A queue receiving every alert from now on. A slow reader loses the oldest alerts,
        never blocks retention."""
        queue: asyncio.Queue[StorageAlert] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[StorageAlert]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def add_listener(self, listener: Callable[[StorageAlert], None]) -> None:
        """Call `listener` (on the event loop, must not block) for every alert."""
        self._listeners.append(listener)

    def publish(self, alert: StorageAlert) -> None:
        if alert.kind is AlertKind.BREAKER_OPENED:
            self.breaker_open = True
        elif alert.kind is AlertKind.BREAKER_CLOSED:
            self.breaker_open = False
        self.alarm_level = alert.alarm_level
        self.used_percent = alert.used_percent
        log.log(logging.WARNING if alert.kind is not AlertKind.CLEARED else logging.INFO,
                "storage: %s", alert.message)  # fmt: skip
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(alert)
        for listener in self._listeners:
            try:
                listener(alert)
            except Exception:
                log.exception("storage alert listener failed")
