"""Health that tells the truth: online only once video is recorded, a keyframe wait that starts
with the packets, and no reconnect at full speed for a camera that records nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recorder.capture.health import CameraHealth, CameraState, HealthBoard
from recorder.capture.opener import OpenedStream, PyAVOptions, PyAVStreamOpener
from recorder.capture.replay import ReplayOpener, ReplayStream
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import FakeClock, SystemClock
from recorder.errors import StreamError, StreamUnusable
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from sim import CameraSpec, Fault, SimCluster
from tests.conftest import ClipFactory

SPECS = [
    CameraSpec("dead", "idle", fault=Fault.stall(0)),  # answers RTSP, never sends a packet
    CameraSpec("garbage", "idle", fault=Fault.garbage()),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(SPECS) as running:
        yield running


def run_session(url: str, data_dir: Path) -> tuple[list[CameraState], CaptureSession, Exception]:
    health = HealthBoard()
    states: list[CameraState] = []

    def note(change: CameraHealth) -> None:
        states.append(change.state)

    health.subscribe(note)
    session = CaptureSession(
        "cam",
        url,
        PyAVStreamOpener(PyAVOptions(connect_timeout_s=5, read_timeout_s=3)),
        SegmentLayout(data_dir),
        SessionSettings(read_timeout_s=3, keyframe_timeout_s=3),
        health,
        SystemClock(),
        lambda _segment: None,
    )
    failure: list[Exception] = []

    def run() -> None:
        try:
            session.run()
        except Exception as exc:  # what the worker would see
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and failure, "the session should have failed on its own"
    return states, session, failure[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dead", "garbage"])
def test_a_camera_that_records_nothing_is_never_online(
    cluster: SimCluster, name: str, tmp_path: Path
) -> None:
    states, session, failure = run_session(cluster.cameras[name].main_url, tmp_path)
    assert CameraState.ONLINE not in states
    assert not session.delivered  # so the worker does not reset its backoff (reconnect.py)
    recordings = tmp_path / "recordings"
    assert not recordings.exists() or not list(recordings.rglob("*.mp4"))
    assert isinstance(failure, StreamError), repr(failure)


class LateStream:
    """A camera that answers at once but sends its first packet 9 s later, in the middle of a
    GOP: the first keyframe comes 2 s after the first packet, 11 s after connecting."""

    def __init__(self, inner: ReplayStream, clock: FakeClock) -> None:
        self._inner = inner
        self._clock = clock
        self.info, self.video, self.audio = inner.info, inner.video, inner.audio

    def packets(self) -> Iterator[Any]:
        self._clock.advance(9)
        for packet in self._inner.packets():
            ticks = packet.pts if packet.pts is not None else packet.dts
            if ticks is not None and ticks * packet.time_base < 2:
                continue  # the first 2 s of a 4 s GOP never reach us
            yield packet

    def close(self) -> None:
        self._inner.close()


class LateOpener:
    def __init__(self, clip: Path, clock: FakeClock) -> None:
        self._replay = ReplayOpener(clip, clock)
        self._clock = clock

    def open(self, url: str) -> OpenedStream:
        return LateStream(self._replay.open(url), self._clock)


def test_the_keyframe_wait_starts_with_the_first_packet(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    clock = FakeClock()
    segments: list[NewSegment] = []
    session = CaptureSession(
        "cam",
        "replay://",
        LateOpener(make_clip(seconds=12, audio=False, gop_s=4), clock),
        SegmentLayout(tmp_path),
        SessionSettings(keyframe_timeout_s=10),
        HealthBoard(),
        clock,
        segments.append,
    )
    # The clip ends (the camera closes the stream): not "no keyframe in 10 s".
    with pytest.raises(StreamError, match="closed the stream") as caught:
        session.run()
    assert not isinstance(caught.value, StreamUnusable)
    assert session.delivered
    assert sum(s.duration_ms for s in segments) == pytest.approx(8_000, abs=100)  # 4 to 12 s
