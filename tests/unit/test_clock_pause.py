"""`pause`: a sleep on the clock that ends early once an event is set, leaving no timer behind."""

from __future__ import annotations

import asyncio

from recorder.clock import SteppedClock, pause
from tests.waiting import eventually


async def test_a_pause_lasts_its_time_on_the_clock() -> None:
    clock, shutdown = SteppedClock(), asyncio.Event()
    waiting = asyncio.create_task(pause(clock, 5, shutdown))
    await eventually(lambda: clock.sleepers == 1)
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(0.1)
    assert await waiting is False  # the time passed; nothing was set


async def test_an_event_ends_the_pause_at_once_and_its_timer_with_it() -> None:
    clock, shutdown, wake = SteppedClock(), asyncio.Event(), asyncio.Event()
    waiting = asyncio.create_task(pause(clock, 30, shutdown, wake))
    await eventually(lambda: clock.sleepers == 1)
    wake.set()
    assert await asyncio.wait_for(waiting, 5) is True
    assert clock.sleepers == 0
    assert await pause(clock, 30, wake) is True  # already set: no wait at all
    assert clock.sleepers == 0


async def test_without_a_time_only_an_event_ends_it() -> None:
    clock, started = SteppedClock(), asyncio.Event()
    waiting = asyncio.create_task(pause(clock, None, started))
    await asyncio.sleep(0)
    clock.advance(3600)
    await asyncio.sleep(0)
    assert not waiting.done() and clock.sleepers == 0
    started.set()
    assert await asyncio.wait_for(waiting, 5) is True


async def test_cancelling_a_pause_cancels_what_it_waits_on() -> None:
    clock, shutdown = SteppedClock(), asyncio.Event()
    waiting = asyncio.create_task(pause(clock, 30, shutdown))
    await eventually(lambda: clock.sleepers == 1)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert waiting.cancelled() and clock.sleepers == 0
