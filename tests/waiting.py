"""Waiting on facts: poll a condition until it holds or a deadline passes.

Tests never sleep a fixed time to let something happen (tests/unit/test_no_fixed_sleeps.py):
they wait for what they expect, with a generous deadline (the machine may be loaded), so a
fast run is fast and a slow one still passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.01
) -> None:
    """Return once `condition()` holds; fail the test if it does not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout_s} s: {condition}"
        await asyncio.sleep(step_s)


async def eventually_async(
    condition: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, step_s: float = 0.05
) -> None:
    """`eventually` for a condition that must await (a query, a request)."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, f"not true within {timeout_s} s: {condition}"
        await asyncio.sleep(step_s)


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.05
) -> None:
    """`eventually` for a test without an event loop (blocking)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout_s} s: {condition}"
        time.sleep(step_s)
