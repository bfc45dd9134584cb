"""Real-time fan-out to WebSocket clients: camera status, storage alarms, motion events.

Publishing never blocks: each client has a bounded queue; a client too slow to keep up loses
its oldest messages and is told so, rather than slowing the recorder.

Who may see a message is decided twice: when it is published, and again when it is sent,
against the subscriber's principal of that moment. A connection whose rights were narrowed
(see recorder/accounts/revocation.py) replaces its principal, and what was already queued for
a camera it may no longer see is dropped rather than sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recorder.accounts.model import Principal

Allowed = Callable[[Principal], bool]

QUEUE = 256


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[tuple[dict[str, Any], Allowed]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE)
    )

    async def next_message(self) -> dict[str, Any]:
        """The next queued message this subscriber may still see."""
        while True:
            message, allowed = await self.queue.get()
            if allowed(self.principal):
                return message


class RealtimeHub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, principal: Principal) -> Subscriber:
        subscriber = Subscriber(principal)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, message: dict[str, Any], allowed: Allowed = lambda _: True) -> None:
        """Queue `message` for every subscriber `allowed` to see it. Event-loop thread only."""
        for subscriber in list(self._subscribers):
            if not allowed(subscriber.principal):
                continue
            queue = subscriber.queue
            if queue.full():
                queue.get_nowait()
                message = {**message, "dropped": True}
            queue.put_nowait((message, allowed))
