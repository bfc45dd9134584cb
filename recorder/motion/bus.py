"""`EventBus`: event start, update and end, published to whoever listens.

The real-time WebSocket subscribes a queue per connection; the relay's Web Push hook adds a
listener. Publishing never blocks on a reader: a full queue loses its oldest notice (the reader
can re-query the store), and a failing listener is logged, never propagated to the motion
pipeline. Everything runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from recorder.motion.model import EventNotice

log = logging.getLogger(__name__)

Listener = Callable[[EventNotice], Awaitable[None] | None]


class EventBus:
    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[EventNotice]] = []
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Future[None]] = set()
        self.published = 0

    def subscribe(self, maxsize: int = 100) -> asyncio.Queue[EventNotice]:
        """A queue receiving every notice from now on; `unsubscribe` it when done."""
        queue: asyncio.Queue[EventNotice] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[EventNotice]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    @asynccontextmanager
    async def subscription(self, maxsize: int = 100) -> AsyncIterator[asyncio.Queue[EventNotice]]:
        """`async with bus.subscription() as queue:` for a WebSocket handler."""
        queue = self.subscribe(maxsize)
        try:
            yield queue
        finally:
            self.unsubscribe(queue)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every notice (a coroutine function runs as a task). Returns a
        function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def publish(self, notice: EventNotice) -> None:
        self.published += 1
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(notice)
        for listener in list(self._listeners):
            try:
                result = listener(notice)
            except Exception:
                log.exception("event listener failed")
                continue
            if result is not None:
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event listener failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for listener tasks still running (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
