"""A camera worker stops promptly on shutdown, whatever state its camera is in."""

from __future__ import annotations

import asyncio
import time

from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import OpenedStream
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.capture.sink import CollectingSink
from recorder.capture.worker import CameraWorker
from recorder.clock import SteppedClock
from recorder.errors import StreamError
from recorder.storage.layout import SegmentLayout
from tests.waiting import eventually


class RefusingOpener:
    """A camera that is down: every connection is refused at once."""

    def __init__(self) -> None:
        self.attempts = 0

    def open(self, url: str) -> OpenedStream:
        self.attempts += 1
        raise StreamError("cannot open stream: connection refused")


async def test_an_offline_camera_worker_backs_off_and_stops_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    opener = RefusingOpener()
    health = HealthBoard()
    clock = SteppedClock()  # the backoff waits on it: the test decides when time passes

    def make_session(on_segment) -> CaptureSession:  # type: ignore[no-untyped-def]
        return CaptureSession(
            "cam", "rtsp://x/", opener, SegmentLayout(tmp_path), SessionSettings(), health,
            clock, on_segment,
        )  # fmt: skip

    sink = CollectingSink()
    worker = CameraWorker("cam", make_session, sink, health, clock, backoff_cap_s=1)
    shutdown = asyncio.Event()
    task = asyncio.create_task(worker.run(shutdown))
    # Refused, reported offline, then waiting on the clock: a backoff, not a busy loop.
    await eventually(lambda: opener.attempts == 1 and clock.sleepers == 1)
    assert health.get("cam").state is CameraState.OFFLINE
    for attempt in (2, 3):
        clock.advance(1.0)  # the backoff is capped at 1 s: each step ends it
        await eventually(lambda: opener.attempts == attempt and clock.sleepers == 1)  # noqa: B023
    assert worker.reconnects == 3 and worker.failures_in_a_row == 3
    # Shutdown during the backoff ends it at once, without waiting the backoff out.
    shutdown.set()
    started = time.monotonic()
    await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - started < 1
    assert clock.sleepers == 0  # no timer left behind
    clock.advance(60)
    assert opener.attempts == 3  # and nothing retries after it stopped
    assert sink.segments == []
