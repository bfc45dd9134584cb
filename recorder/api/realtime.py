"""Real-time fan-out to WebSocket clients: camera status, storage alarms, motion events.

Publishing never blocks: each client has a bounded queue; a client too slow to keep up loses
its oldest messages and is told so, rather than slowing the recorder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recorder.accounts.model import Principal

QUEUE = 256


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE)
    )


class RealtimeHub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, principal: Principal) -> Subscriber:
        subscriber = Subscriber(principal)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(
        self, message: dict[str, Any], allowed: Callable[[Principal], bool] = lambda _: True
    ) -> None:
        """Queue `message` for every subscriber `allowed` to see it. Event-loop thread only."""
        for subscriber in list(self._subscribers):
            if not allowed(subscriber.principal):
                continue
            queue = subscriber.queue
            if queue.full():
                queue.get_nowait()
                message = {**message, "dropped": True}
            queue.put_nowait(message)
