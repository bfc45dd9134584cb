"""kill -9 in the middle of a segment, then restart: nothing but the segment in flight is lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.config import load_config
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment
from sim import CameraSpec, SimCluster
from skycam.up import write_config
from tests.e2e.harness import assert_disk_and_index_agree, disk_segments, indexed_segments

pytestmark = pytest.mark.slow

SEGMENT_S = 4


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster([CameraSpec("cam", "motion", audio=True)]) as running_cluster:
        yield running_cluster


def start_recorder(config: Path) -> subprocess.Popen[bytes]:
    skycam = Path(sys.executable).with_name("skycam")
    return subprocess.Popen(
        [str(skycam), "recorder", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_segments(data_dir: Path, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(disk_segments(data_dir)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} segments after {timeout_s} s")


def test_kill_9_loses_at_most_the_segment_in_flight(cluster: SimCluster, tmp_path: Path) -> None:
    camera = cluster.cameras["cam"]
    config_path = tmp_path / "recorder.toml"
    main = camera.url("main", credentials=False)
    sections = f"[storage]\nsegment_seconds = {SEGMENT_S}\n[api]\nhttp_port = 0\nhttps = false\n"
    write_config(config_path, tmp_path, [("cam", main, main, "", "")], sections)
    load_config(config_path)  # the test's own config must be valid

    first = start_recorder(config_path)
    try:
        wait_for_segments(tmp_path, 3, 40)
        time.sleep(SEGMENT_S / 2)  # in the middle of a segment
        assert list(tmp_path.rglob("*.partial")), "a segment must be in flight when we kill"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at_ms = round(time.time() * 1000)
    finally:
        first.kill()
    before: list[Segment] = asyncio.run(indexed_segments(tmp_path, "cam"))

    second = start_recorder(config_path)
    try:
        # File names carry their start time: wait for two segments begun after the kill.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            starts = [int(Path(p).stem) for p in disk_segments(tmp_path)]
            if sum(start > killed_at_ms for start in starts) >= 2:
                break
            time.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=30)
    finally:
        second.kill()
    assert second.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert "reconciled:" in log and "partial" in log, log

    after = asyncio.run(indexed_segments(tmp_path, "cam"))
    # Index and disk agree, no truncated file was indexed, no temporary file is left.
    assert {s.path for s in after} == disk_segments(tmp_path)
    assert_disk_and_index_agree(tmp_path, after)
    # Everything indexed before the kill is still there.
    assert {s.path for s in before} <= {s.path for s in after}
    # Recording resumed after the restart.
    resumed = [s for s in after if s.start_ms > killed_at_ms]
    assert len(resumed) >= 2
    # What was lost is at most the segment in flight (plus the restart time): the gap between
    # the last segment finished before the kill and the first after the restart.
    finished_before = [s for s in after if s.end_ms <= killed_at_ms]
    gap_ms = resumed[0].start_ms - finished_before[-1].end_ms
    assert gap_ms < (SEGMENT_S + 1) * 1000 + (resumed[0].start_ms - killed_at_ms)
    lost_before_kill = killed_at_ms - finished_before[-1].end_ms
    assert lost_before_kill <= (SEGMENT_S + 1) * 1000
    layout = SegmentLayout(tmp_path)
    assert all(layout.absolute(s.path).stat().st_size == s.bytes for s in after)
    assert config_path.stat().st_mode & 0o777 == 0o600
