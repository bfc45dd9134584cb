"""Keeping a connection to a camera alive: shared by capture, motion detection and ONVIF events.

`Reconnector.run` repeats an attempt until shutdown: after a failure it waits a full-jitter
exponential backoff (tenacity) capped at `backoff_cap_s`; an attempt that stayed up for
`healthy_s` before failing reconnects at once with a fresh backoff, so a camera that drops now
and then comes back quickly while a dead one is retried gently. Any `Exception` is retried (one
camera must never take the recorder down); cancellation is not an Exception, and the `give_up`
types end the loop. `run_in_thread` runs one blocking session (PyAV reads block) in its own
thread until shutdown or failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from recorder.clock import Clock, pause

HEALTHY_SESSION_S = 10.0

Attempt = Callable[[asyncio.Event], Awaitable[None]]


class BlockingSession(Protocol):
    def run(self) -> None:
        """Blocking: work until `stop` (return) or failure (raise)."""

    def stop(self) -> None:
        """Thread-safe: ask `run` to finish soon."""


class Reconnector:
    def __init__(
        self,
        clock: Clock,
        on_failure: Callable[[BaseException], None],
        *,
        backoff_cap_s: float = 30.0,
        backoff_multiplier_s: float = 0.5,
        healthy_s: float = HEALTHY_SESSION_S,
        give_up: tuple[type[BaseException], ...] = (),
        proved: Callable[[], bool] = lambda: True,
    ) -> None:
        self._clock = clock
        self._on_failure = on_failure
        self._backoff_cap_s = backoff_cap_s
        self._multiplier = backoff_multiplier_s
        self._healthy_s = healthy_s
        self._give_up = give_up
        self._proved = proved
        self.reconnects = 0  # failures so far; `on_failure` sees the count including its own
        self.failures_in_a_row = 0  # since the last attempt that was healthy: the backoff's step

    async def run(self, shutdown: asyncio.Event, attempt: Attempt) -> None:
        """Run `attempt(shutdown)` again and again until shutdown; raises a `give_up` error."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, Exception) and not isinstance(exc, self._give_up)

        while not shutdown.is_set():
            retrying = AsyncRetrying(
                retry=retry_if_exception(retryable),
                wait=wait_random_exponential(multiplier=self._multiplier, max=self._backoff_cap_s),
                sleep=lambda seconds: self._backoff(seconds, shutdown),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            async for trial in retrying:
                with trial:
                    # A finished attempt ends the retries: without this, the backoff's sleep
                    # returns at once after shutdown and the loop would spin.
                    if shutdown.is_set():
                        break
                    await self._until_unhealthy(shutdown, attempt)

    async def _until_unhealthy(self, shutdown: asyncio.Event, attempt: Attempt) -> None:
        started = self._clock.monotonic()
        try:
            await attempt(shutdown)
        except Exception as exc:
            if isinstance(exc, self._give_up):
                raise
            if self._clock.monotonic() - started < self._healthy_s or not self._proved():
                raise
            self.failures_in_a_row = 0
            self._failed(exc)  # it was up a while: report, then reconnect at once

    async def _backoff(self, seconds: float, shutdown: asyncio.Event) -> None:
        """The backoff's sleep: on the clock (a test steps it), cut short by shutdown."""
        await pause(self._clock, seconds, shutdown)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.reconnects += 1
        self.failures_in_a_row += 1
        self._on_failure(exc)


async def run_in_thread(session: BlockingSession, shutdown: asyncio.Event, name: str) -> None:
    """Run `session` in its own thread until shutdown (then stop it and return once it has
    finished) or until it fails (raise its error)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def body() -> None:
        try:
            session.run()
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, done, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, None)

    threading.Thread(target=body, name=name, daemon=True).start()
    stopper: asyncio.Future[Any] = asyncio.ensure_future(shutdown.wait())
    try:
        await asyncio.wait([done, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        session.stop()
        stopper.cancel()
    await done  # the session finishes its work in flight before it returns


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
