"""A camera's capture worker: keeps a `CaptureSession` running, reconnecting with backoff.

`run()` loops until shutdown: full-jitter exponential backoff (tenacity) capped at
`backoff_cap_s` after failures, reset after a session that stayed up, so a camera that drops
now and then reconnects at once while a dead one is retried gently. `run_once()` runs one
session and raises its failure. Finished segments are indexed on the event loop, in order,
after their files are durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.session import CaptureSession
from recorder.clock import Clock
from recorder.errors import RecorderError, StreamError, StreamUnusable
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)

HEALTHY_SESSION_S = 10.0  # a session that lasted this long resets the backoff

SessionFactory = Callable[[Callable[[NewSegment], None]], CaptureSession]
SegmentSink = Callable[[NewSegment], Awaitable[None]]


class CameraWorker:
    def __init__(
        self,
        camera_id: str,
        make_session: SessionFactory,
        sink: SegmentSink,
        health: HealthBoard,
        clock: Clock,
        backoff_cap_s: float = 30.0,
    ) -> None:
        self.camera_id = camera_id
        self._make_session = make_session
        self._sink = sink
        self._health = health
        self._clock = clock
        self._backoff_cap_s = backoff_cap_s
        self._pending: asyncio.Queue[NewSegment] = asyncio.Queue()
        self.reconnects = 0
        self.session: CaptureSession | None = None  # the current or last session

    async def run(self, shutdown: asyncio.Event) -> None:
        indexer = asyncio.create_task(self._index_segments(), name=f"index-{self.camera_id}")
        try:
            while not shutdown.is_set():
                retrying = AsyncRetrying(
                    # Any failure of this camera (stream, segment file, a bug) is retried: one
                    # camera must never take the recorder down. Cancellation is not an Exception.
                    retry=retry_if_exception_type(Exception),
                    wait=wait_random_exponential(multiplier=0.5, max=self._backoff_cap_s),
                    sleep=lambda seconds: _wait(shutdown, seconds),
                    before_sleep=self._note_failure,
                    reraise=True,
                )
                async for attempt in retrying:
                    with attempt:
                        # A finished attempt ends the retries: without this, the backoff's
                        # sleep returns at once after shutdown and the loop would spin.
                        if shutdown.is_set():
                            break
                        await self._session_until_unhealthy(shutdown)
        finally:
            await self._pending.join()
            indexer.cancel()

    async def _session_until_unhealthy(self, shutdown: asyncio.Event) -> None:
        started = self._clock.monotonic()
        try:
            await self.run_once(shutdown)
        except Exception as exc:
            if self._clock.monotonic() - started < HEALTHY_SESSION_S:
                raise
            # It was up for a while: report, then reconnect at once with a fresh backoff.
            self._record_failure(exc)
            self.reconnects += 1

    async def run_once(self, shutdown: asyncio.Event) -> None:
        """One session in its own thread until shutdown (returns) or failure (raises)."""
        loop = asyncio.get_running_loop()

        def hand_over(segment: NewSegment) -> None:
            loop.call_soon_threadsafe(self._pending.put_nowait, segment)

        session = self._make_session(hand_over)
        self.session = session
        done: asyncio.Future[None] = loop.create_future()

        def body() -> None:
            try:
                session.run()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, done, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, None)

        thread = threading.Thread(target=body, name=f"capture-{self.camera_id}", daemon=True)
        thread.start()
        stopper = asyncio.ensure_future(shutdown.wait())
        waiting: list[asyncio.Future[object]] = [done, stopper]  # type: ignore[list-item]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            session.stop()
            stopper.cancel()
        await done  # the session closes its segment in flight before it returns

    def _note_failure(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            self._record_failure(exc)
        self.reconnects += 1

    def _record_failure(self, exc: BaseException) -> None:
        # Offline: the camera may come back by itself. Error: something needs a look (the
        # stream is unusable, a segment could not be written, or a bug, logged in full).
        offline = isinstance(exc, StreamError) and not isinstance(exc, StreamUnusable)
        state = CameraState.OFFLINE if offline else CameraState.ERROR
        if isinstance(exc, RecorderError):
            log.warning("%s: %s (%s); reconnecting", self.camera_id, state.value, exc)
        else:
            log.error("%s: unexpected failure; reconnecting", self.camera_id, exc_info=exc)
        self._health.update(
            self.camera_id, state=state, reason=str(exc), reconnects=self.reconnects + 1
        )

    async def _index_segments(self) -> None:
        while True:
            segment = await self._pending.get()
            try:
                await self._sink(segment)
            except RecorderError:
                # The file is durable; start-up reconciliation will index it.
                log.exception("%s: cannot index %s", self.camera_id, segment.path)
            finally:
                self._pending.task_done()


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


async def _wait(shutdown: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(shutdown.wait(), timeout=seconds)
