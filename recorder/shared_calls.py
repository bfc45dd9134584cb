"""Concurrent calls for the same key share one run of the work (the preview decoder, the site
database read behind authentication): the first caller runs it, the others await its outcome.

Each waiter is shielded, so one caller giving up (a closed request) neither cancels the work
for the others nor is cancelled by theirs; if the runner itself is cancelled, the waiters see a
cancellation too and may retry. `forget()` stops sharing the runs under way: a caller from then
on starts a run of its own (what a change announced meanwhile needs to be seen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedCalls(Generic[K, V]):
    """Event loop only."""

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: nobody else may be waiting
            raise
        finally:
            if self._pending.get(key) is future:  # not a newer run started after forget()
                del self._pending[key]
        future.set_result(value)
        return value

    def forget(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)
