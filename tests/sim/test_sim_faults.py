"""The fault modes do what they say, as a PyAV client (the recorder's library) experiences them.

Each fault is observed by its own client, all at the same time (the `observed` fixture), and the
tests then judge what each client saw: the faults take seconds of wall time to show.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import psutil
import pytest
from sim_rtsp_probe import OPTIONS, PacketLog, open_rtsp, read_packets

from sim.cluster import SimCluster
from sim.spec import CameraSpec, Fault

DROP_EVERY_S = 3.0
STALL_AFTER_S = 2.0
RESUME_AFTER_S = 2.0
SPECS = [
    CameraSpec("dropper", "idle", Fault.drop(DROP_EVERY_S)),
    CameraSpec("staller", "idle", Fault.stall(STALL_AFTER_S)),
    CameraSpec("resumer", "idle", Fault.stall(STALL_AFTER_S, RESUME_AFTER_S)),
    CameraSpec("garbler", "idle", Fault.garbage()),
    CameraSpec("steady", "idle"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(SPECS) as running:
        yield running


def watch_drops(cluster: SimCluster) -> list[PacketLog]:
    """Connect again and again to the dropping camera for a little over two drop periods."""
    logs = []
    deadline = time.monotonic() + 2 * DROP_EVERY_S + 1
    while time.monotonic() < deadline:
        logs.append(read_packets(cluster.cameras["dropper"].sub_url, 2 * DROP_EVERY_S))
    return logs


@dataclass
class StallView:
    opened_at: float = 0.0
    received: list[float] = field(default_factory=list)
    timed_out_at: float = 0.0
    error: BaseException | None = None
    connections_while_silent: int = 0


def watch_stall(cluster: SimCluster) -> StallView:
    view = StallView()
    camera = cluster.cameras["staller"]
    server = psutil.Process(cluster.server_pid)
    with open_rtsp(camera.sub_url, read_timeout_s=2.0) as container:
        view.opened_at = time.monotonic()
        try:
            for packet in container.demux(container.streams.video[0]):
                if packet.size:
                    view.received.append(time.monotonic())
        except av.error.FFmpegError as exc:  # PyAV's read timeout, we expect
            view.error = exc
        view.timed_out_at = time.monotonic()
        # Still connected? Count the camera's established TCP connections, server side.
        view.connections_while_silent = sum(
            1
            for c in server.net_connections(kind="tcp")
            if c.laddr.port == camera.port and c.status == psutil.CONN_ESTABLISHED
        )
    return view


def watch_garbage(cluster: SimCluster) -> tuple[int, int, int, int]:
    """(width, height, packets, pictures) of the garbage camera's main mount over 3 s."""
    with av.open(cluster.cameras["garbler"].main_url, options=OPTIONS, timeout=(15, 5)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"  # the RTSP side is valid
        packets = pictures = 0
        deadline = time.monotonic() + 3.0
        for packet in c.demux(stream):
            packets += 1
            with contextlib.suppress(av.error.FFmpegError):  # expected: nothing decodes
                pictures += len(packet.decode())
            if time.monotonic() > deadline:
                break
        return stream.codec_context.width, stream.codec_context.height, packets, pictures


@pytest.fixture(scope="module")
def observed(cluster: SimCluster) -> dict[str, Any]:
    watchers: dict[str, Callable[[], Any]] = {
        "drop": lambda: watch_drops(cluster),
        "stall": lambda: watch_stall(cluster),
        "resume": lambda: read_packets(cluster.cameras["resumer"].sub_url, 7.0, read_timeout_s=5),
        "garbage": lambda: watch_garbage(cluster),
        "steady": lambda: read_packets(cluster.cameras["steady"].sub_url, 2 * DROP_EVERY_S),
        "dropper_main": lambda: read_packets(cluster.cameras["dropper"].main_url, 2 * DROP_EVERY_S),
    }
    with ThreadPoolExecutor(len(watchers)) as pool:
        futures = {name: pool.submit(watch) for name, watch in watchers.items()}
        return {name: future.result() for name, future in futures.items()}


def test_drop_disconnects_every_client_every_n_seconds(
    cluster: SimCluster, observed: dict[str, Any]
) -> None:
    logs: list[PacketLog] = observed["drop"]
    for log in logs:
        assert log.ended_by != "time", "the connection outlived the drop period"
        assert log.pts, "nothing was received before the drop"
    ends = [log.ended_at for log in logs]
    assert len(ends) >= 2
    assert np.diff(ends) == pytest.approx([DROP_EVERY_S] * (len(ends) - 1), abs=0.5)

    def dropped_clients() -> int:
        return sum(
            e["clients"]
            for e in cluster.events()
            if e["event"] == "drop" and e["camera"] == "dropper"
        )

    deadline = time.monotonic() + 2.0  # events reach us through a pipe, a moment later
    while dropped_clients() < len(ends) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dropped_clients() >= len(ends)


def test_stall_goes_silent_with_the_connection_open(
    cluster: SimCluster, observed: dict[str, Any]
) -> None:
    view: StallView = observed["stall"]
    assert isinstance(view.error, av.error.ExitError)  # the read timeout, not an EOF
    assert view.received and view.received[-1] - view.opened_at < STALL_AFTER_S + 0.5
    assert view.timed_out_at - view.received[-1] >= 2.0
    assert view.connections_while_silent >= 1  # only the packets stopped
    assert any(e["event"] == "stall" and e["camera"] == "staller" for e in cluster.events())


def test_stall_with_resume_comes_back_from_a_keyframe(observed: dict[str, Any]) -> None:
    log: PacketLog = observed["resume"]
    assert log.ended_by == "time"
    # Silent for the stall, plus up to a GOP waiting for the next keyframe.
    assert RESUME_AFTER_S - 0.3 <= log.max_gap_s() <= RESUME_AFTER_S + 1.3
    # Timestamps jump by the silence, as from a camera whose encoder froze, and the first
    # packet after the jump is a keyframe. (FFmpeg's parser holds each packet until the next
    # one arrives, so the jump in arrivals sits one packet before the jump in PTS.)
    steps = np.diff(log.pts)
    jump = int(steps.argmax())
    assert steps[jump] > RESUME_AFTER_S * 90_000 * 0.8
    assert log.keyframes[jump + 1], "the stream resumed on a non-key frame"
    assert len(log.pts) - jump - 1 > 10


def test_garbage_yields_no_codec_parameters_and_no_pictures(observed: dict[str, Any]) -> None:
    width, height, packets, pictures = observed["garbage"]
    assert (width, height) == (0, 0)
    assert packets > 20
    assert pictures == 0


def test_faults_leave_other_cameras_alone(observed: dict[str, Any]) -> None:
    """A drop ends every client of that camera, on every mount; other cameras stream on."""
    assert observed["dropper_main"].ended_by != "time"
    steady: PacketLog = observed["steady"]
    assert steady.ended_by == "time" and steady.max_gap_s() < 1.0
