"""The reconnect backoff resets only after an attempt that stayed up and proved itself."""

from __future__ import annotations

import asyncio

from recorder.clock import FakeClock
from recorder.errors import StreamTimeout
from recorder.reconnect import Reconnector


async def attempts_until(reconnector: Reconnector, clock: FakeClock, count: int) -> list[int]:
    """Run attempts that each stay up 30 s (on the fake clock) and then fail; return the
    failures in a row seen after each."""
    shutdown = asyncio.Event()
    seen: list[int] = []

    async def attempt(_shutdown: asyncio.Event) -> None:
        seen.append(reconnector.failures_in_a_row)
        if len(seen) > count:
            shutdown.set()
            return
        clock.advance(30)  # up longer than any healthy threshold
        raise StreamTimeout("no packets for 20 s")

    await asyncio.wait_for(reconnector.run(shutdown, attempt), timeout=30)
    return seen[1:]


async def test_a_long_session_that_recorded_nothing_does_not_reset_the_backoff() -> None:
    clock = FakeClock()
    reconnector = Reconnector(
        clock, lambda _exc: None, backoff_multiplier_s=0.001, backoff_cap_s=0.01,
        proved=lambda: False,
    )  # fmt: skip
    assert await attempts_until(reconnector, clock, 4) == [1, 2, 3, 4]


async def test_a_long_session_that_recorded_video_resets_the_backoff() -> None:
    clock = FakeClock()
    reconnector = Reconnector(
        clock, lambda _exc: None, backoff_multiplier_s=0.001, backoff_cap_s=0.01,
        proved=lambda: True,
    )  # fmt: skip
    assert await attempts_until(reconnector, clock, 4) == [1, 1, 1, 1]
    assert reconnector.reconnects == 4
