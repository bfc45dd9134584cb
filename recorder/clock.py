"""Time sources. Domain code takes a `Clock` so tests can drive time without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time in seconds since the epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; `sleep` advances it instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class SteppedClock:
    """A clock that only moves when told to, whose `sleep` really waits until `advance` passes
    its end. A test sees a loop's pending timers (`sleepers`) and fires them at will, so it
    waits on facts (this timer is set, that one has fired) rather than on the wall clock."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._sleeping: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to reach their end."""
        return sum(1 for _, future in self._sleeping if not future.done())

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds
        for ends, future in self._sleeping:
            if ends <= self._mono and not future.done():
                future.set_result(None)
        self._sleeping = [(ends, f) for ends, f in self._sleeping if not f.done()]

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleeping.append((self._mono + seconds, future))
        await future  # cancelling the sleep cancels the future: it stops counting


async def pause(clock: Clock, seconds: float | None, *until: asyncio.Event) -> bool:
    """Wait `seconds` of `clock`'s time (None: no limit), ending early once any of `until` is
    set (a shutdown, a wake-up); True if one was. Domain code waits this way rather than with
    `asyncio.sleep` or `wait_for`, so a test steps its waits with the clock (`SteppedClock`)
    and a shutdown never waits out a backoff."""
    if any(event.is_set() for event in until):
        return True
    waits: list[asyncio.Future[object]] = [asyncio.ensure_future(e.wait()) for e in until]
    if seconds is not None:
        waits.append(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    return any(event.is_set() for event in until)
