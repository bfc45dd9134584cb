"""A camera's capture worker: keeps a `CaptureSession` running, reconnecting with backoff.

`run()` loops until shutdown with `recorder.reconnect.Reconnector`: full-jitter exponential
backoff capped at `backoff_cap_s` after failures, reset after a session that stayed up and
recorded video, so a camera that drops now and then reconnects at once while a dead one (even
one that accepts connections and sends nothing usable) is retried gently.
`run_once()` runs one session in its own thread and raises its failure. Finished segments are
handed to the `SegmentSink` on the event loop, in order, after their files are durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.session import CaptureSession
from recorder.capture.sink import SegmentSink
from recorder.clock import Clock
from recorder.errors import RecorderError, StreamError, StreamUnusable
from recorder.reconnect import Reconnector, run_in_thread
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)


# Makes a session that hands each finished segment to the callable (from its own thread).
SessionFactory = Callable[[Callable[[NewSegment], None]], CaptureSession]


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
        self._reconnector = Reconnector(
            clock, self._record_failure, backoff_cap_s=backoff_cap_s, proved=self._delivered
        )
        self._pending: asyncio.Queue[NewSegment] = asyncio.Queue()
        self.session: CaptureSession | None = None  # the current or last session

    @property
    def reconnects(self) -> int:
        return self._reconnector.reconnects

    @property
    def failures_in_a_row(self) -> int:
        """Failed sessions since the last one that recorded video for a while."""
        return self._reconnector.failures_in_a_row

    def _delivered(self) -> bool:
        return self.session is not None and self.session.delivered

    async def run(self, shutdown: asyncio.Event) -> None:
        handing = asyncio.create_task(self._hand_over(), name=f"segments-{self.camera_id}")
        try:
            await self._reconnector.run(shutdown, self.run_once)
        finally:
            await self._pending.join()
            handing.cancel()

    async def run_once(self, shutdown: asyncio.Event) -> None:
        """One session in its own thread until shutdown (returns) or failure (raises)."""
        loop = asyncio.get_running_loop()

        def hand_over(segment: NewSegment) -> None:
            loop.call_soon_threadsafe(self._pending.put_nowait, segment)

        session = self._make_session(hand_over)
        self.session = session
        await run_in_thread(session, shutdown, f"capture-{self.camera_id}")

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
            self.camera_id, state=state, reason=str(exc), reconnects=self.reconnects
        )

    async def _hand_over(self) -> None:
        while True:
            segment = await self._pending.get()
            try:
                await self._sink.segment_finished(segment)
            except RecorderError:
                # The file is durable; start-up reconciliation will index it.
                log.exception("%s: cannot index %s", self.camera_id, segment.path)
            finally:
                self._pending.task_done()
