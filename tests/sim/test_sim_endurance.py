"""Long runs: many cameras at once, for a minute, and what the server costs in CPU."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sim_rtsp_probe import PacketLog, read_packets

from sim.benchmark import measure_server_cpu
from sim.cluster import SimCluster
from sim.formats import MOUNTS
from sim.spec import CameraSpec

MINUTE_S = 60.0


@pytest.mark.slow
def test_four_cameras_stream_for_a_minute_without_stalls() -> None:
    specs = [
        CameraSpec(f"cam{i}", scene)
        for i, scene in enumerate(["motion", "idle", "lights", "motion"])
    ]
    with SimCluster(specs) as cluster:
        urls = [cam.url(mount) for cam in cluster.cameras.values() for mount in MOUNTS]
        with ThreadPoolExecutor(len(urls)) as pool:
            logs: list[PacketLog] = list(pool.map(lambda url: read_packets(url, MINUTE_S), urls))
    for url, log in zip(urls, logs, strict=True):
        assert log.ended_by == "time", f"{url}: {log.error}"
        assert log.max_gap_s() < 1.0, f"{url}: {log.max_gap_s():.2f} s without a packet"
        # After the first second (FFmpeg's probing hands its buffered packets over at once),
        # one packet per frame at 15 fps.
        steady = [t for t in log.arrivals if t >= log.opened_at + 1.0]
        expected = (log.arrivals[-1] - log.opened_at - 1.0) * 15
        assert len(steady) == pytest.approx(expected, rel=0.02), url


@pytest.mark.slow
def test_sixteen_cameras_cost_the_server_under_half_a_core() -> None:
    report = measure_server_cpu(cameras=16, seconds=10.0, warmup_s=4.0)
    assert report.clients_alive == report.clients_started == 32
    assert report.server_cores < 0.5, report
