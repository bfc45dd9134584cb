"""The fault modes do what they say, as a PyAV client (the recorder's library) experiences them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

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


def test_drop_disconnects_every_client_every_n_seconds(cluster: SimCluster) -> None:
    url = cluster.cameras["dropper"].sub_url
    ends: list[float] = []
    deadline = time.monotonic() + 2 * DROP_EVERY_S + 1
    while time.monotonic() < deadline:
        log = read_packets(url, 2 * DROP_EVERY_S)
        assert log.ended_by != "time", "the connection outlived the drop period"
        assert log.pts, "nothing was received before the drop"
        ends.append(log.ended_at)
    assert len(ends) >= 2
    assert np.diff(ends) == pytest.approx([DROP_EVERY_S] * (len(ends) - 1), abs=0.5)
    drops = [e for e in cluster.events() if e["event"] == "drop" and e["camera"] == "dropper"]
    assert sum(e["clients"] for e in drops) >= len(ends)


def _server_connections(cluster: SimCluster, port: int) -> list[object]:
    server = psutil.Process(cluster.server_pid)
    return [
        c
        for c in server.net_connections(kind="tcp")
        if c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]


def test_stall_goes_silent_with_the_connection_open(cluster: SimCluster) -> None:
    camera = cluster.cameras["staller"]
    with open_rtsp(camera.sub_url, read_timeout_s=2.0) as container:
        opened = time.monotonic()
        stream = container.streams.video[0]
        received: list[float] = []
        with pytest.raises(av.error.ExitError):  # PyAV's read timeout
            for packet in container.demux(stream):
                if packet.size:
                    received.append(time.monotonic())
        silent_for = time.monotonic() - received[-1]
        # The camera still holds the connection: only the packets stopped.
        assert _server_connections(cluster, camera.port)
    assert received[-1] - opened < STALL_AFTER_S + 0.5
    assert silent_for >= 2.0
    assert any(e["event"] == "stall" and e["camera"] == "staller" for e in cluster.events())


def test_stall_with_resume_comes_back_from_a_keyframe(cluster: SimCluster) -> None:
    log = read_packets(cluster.cameras["resumer"].sub_url, 7.0, read_timeout_s=5.0)
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


def test_garbage_yields_no_codec_parameters_and_no_pictures(cluster: SimCluster) -> None:
    url = cluster.cameras["garbler"].main_url
    with av.open(url, options=OPTIONS, timeout=(15, 5)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"  # the RTSP side is valid
        assert (stream.codec_context.width, stream.codec_context.height) == (0, 0)
        packets = pictures = 0
        deadline = time.monotonic() + 3.0
        for packet in container.demux(stream):
            packets += 1
            try:
                pictures += len(packet.decode())
            except av.error.FFmpegError:
                pass  # expected: nothing in there decodes
            if time.monotonic() > deadline:
                break
    assert packets > 20
    assert pictures == 0


def test_faults_leave_other_mounts_and_clients_unaffected(cluster: SimCluster) -> None:
    """A drop ends every client of that camera; the other cameras stream on meanwhile."""
    with ThreadPoolExecutor(2) as pool:
        healthy = pool.submit(read_packets, cluster.cameras["steady"].sub_url, 2 * DROP_EVERY_S)
        dropped = pool.submit(read_packets, cluster.cameras["dropper"].main_url, 2 * DROP_EVERY_S)
        healthy_log: PacketLog = healthy.result()
        assert dropped.result().ended_by != "time"
    assert healthy_log.ended_by == "time"
