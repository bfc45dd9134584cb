"""A camera worker stops promptly on shutdown, whatever state its camera is in."""

from __future__ import annotations

import asyncio
import time

from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import OpenedStream
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.capture.worker import CameraWorker
from recorder.clock import SystemClock
from recorder.errors import StreamError
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment


class RefusingOpener:
    """A camera that is down: every connection is refused at once."""

    def __init__(self) -> None:
        self.attempts = 0

    def open(self, url: str) -> OpenedStream:
        self.attempts += 1
        raise StreamError("cannot open stream: connection refused")


async def test_an_offline_camera_worker_stops_at_once_without_spinning(tmp_path) -> None:  # type: ignore[no-untyped-def]
    opener = RefusingOpener()
    health = HealthBoard()
    clock = SystemClock()

    def make_session(on_segment) -> CaptureSession:  # type: ignore[no-untyped-def]
        return CaptureSession(
            "cam", "rtsp://x/", opener, SegmentLayout(tmp_path), SessionSettings(), health,
            clock, on_segment,
        )  # fmt: skip

    async def sink(segment: NewSegment) -> None:
        raise AssertionError("nothing to index")

    worker = CameraWorker("cam", make_session, sink, health, clock, backoff_cap_s=1)
    shutdown = asyncio.Event()
    task = asyncio.create_task(worker.run(shutdown))
    await asyncio.sleep(1.5)
    assert health.get("cam").state is CameraState.OFFLINE
    tried = opener.attempts
    assert 1 <= tried <= 10  # backoff, not a busy loop
    shutdown.set()
    started = time.monotonic()
    await asyncio.wait_for(task, timeout=2)
    assert time.monotonic() - started < 1
    await asyncio.sleep(0.3)
    assert opener.attempts <= tried + 1  # and nothing retries after it stopped
