"""kill -9 in the middle of a segment, then restart: nothing but the fragment in flight is lost.

The crash-loop test kills `SKYCAM_CRASH_KILLS` times (5 in CI; the issue's 25 with the variable
set) and prints its figures as JSON: run it with `-s` to read them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recorder.config import load_config
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment
from sim import CameraSpec, SimCluster
from skycam.up import write_config
from tests.e2e.harness import (
    assert_disk_and_index_agree,
    decoded_frames,
    disk_segments,
    indexed_segments,
)

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


# -- a crash loop: many kills, several cameras ---------------------------------------------------

KILLS = int(os.environ.get("SKYCAM_CRASH_KILLS", "5"))  # the figure: 25 (docs/ref/bench.md)
CRASH_CAMERAS = 4
AUDIO_CAMERA = "cam0"
GOP_MS = 1000  # the simulator's GOP: the fragment a crash may lose
# What a crash may cost before the kill: the fragment in flight (the GOP being received), plus
# the moment the reader takes to hand a finished GOP to the muxer. On this shared 2-core machine
# at a load of 10-17 that hand-over took up to 0.8 s; the median is the GOP's half, as expected.
LOST_MEDIAN_MS = GOP_MS
LOST_MAX_MS = GOP_MS + 1000
# A camera with audio is held to the same: capture hands a GOP over at the first audio packet
# after its keyframe, so FFmpeg's interleaving queue lets the keyframe, and the fragment it
# closes, out at once (docs/design/segments.md). It is counted apart to show it.
# Launch to footage: the median is held to the 3 s. The maximum is reported, not held:
# under a load of 10 on 2 cores, a Python start alone varied from 1 to 5 s (docs/ref/bench.md).
FOOTAGE_MEDIAN_S = 3.0


@dataclass(frozen=True)
class _Crash:
    launched_ms: int  # when the recorder that was killed had been launched
    footage_from: dict[str, int]  # per camera, where its footage began
    killed_ms: int
    relaunched_ms: int


@pytest.fixture(scope="module")
def four_cameras() -> Iterator[SimCluster]:
    specs = [
        CameraSpec(f"cam{i}", "motion", audio=f"cam{i}" == AUDIO_CAMERA)
        for i in range(CRASH_CAMERAS)
    ]
    with SimCluster(specs) as running_cluster:
        yield running_cluster


def _first_partials(
    data_dir: Path, cameras: list[str], after_ms: int, timeout_s: float
) -> dict[str, int]:
    """Wait until every camera writes a segment begun after `after_ms` (its `.partial` exists);
    return each camera's first such start: where the launched recorder's footage begins."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        started: dict[str, int] = {}
        for p in (data_dir / "recordings").rglob("*.partial"):
            camera, start = p.relative_to(data_dir / "recordings").parts[0], int(p.name[:13])
            if start > after_ms:
                started[camera] = min(start, started.get(camera, start))
        if set(started) >= set(cameras):
            return started
        time.sleep(0.05)
    raise AssertionError(f"not every camera recorded within {timeout_s} s of the launch")


def test_a_crash_loop_loses_at_most_the_fragment_in_flight(
    four_cameras: SimCluster, tmp_path: Path
) -> None:
    cameras = sorted(four_cameras.cameras)
    config_path = tmp_path / "recorder.toml"
    entries = []
    for cam_id in cameras:
        main = four_cameras.cameras[cam_id].url("main", credentials=False)
        entries.append((cam_id, main, main, "", ""))
    sections = f"[storage]\nsegment_seconds = {SEGMENT_S}\n[api]\nhttp_port = 0\nhttps = false\n"
    write_config(config_path, tmp_path, entries, sections)
    rng = random.Random(13)
    crashes: list[_Crash] = []
    launched_ms = round(time.time() * 1000)
    recorder = start_recorder(config_path)
    try:
        for _ in range(KILLS):
            footage_from = _first_partials(tmp_path, cameras, launched_ms, 30)
            # Anywhere in a segment, and sometimes before the first one could end: a recorder
            # that crash-loops faster than its segments must keep its video too.
            time.sleep(rng.uniform(0.2, SEGMENT_S * 1.5))
            recorder.send_signal(signal.SIGKILL)
            recorder.wait(10)
            killed_ms = round(time.time() * 1000)
            relaunched_ms = round(time.time() * 1000)
            recorder = start_recorder(config_path)
            crashes.append(_Crash(launched_ms, footage_from, killed_ms, relaunched_ms))
            launched_ms = relaunched_ms
        _first_partials(tmp_path, cameras, launched_ms, 30)
        recorder.send_signal(signal.SIGTERM)
        _, stderr = recorder.communicate(timeout=30)
    finally:
        recorder.kill()
    assert recorder.returncode == 0, stderr.decode()

    lost_ms: list[int] = []
    lost_with_audio_ms: list[int] = []
    footage_s: list[float] = []
    corrupt: list[str] = []
    layout = SegmentLayout(tmp_path)
    for cam_id in cameras:
        segments = asyncio.run(indexed_segments(tmp_path, cam_id))
        for segment in segments:  # nothing partial indexed, every file decodes whole
            path = layout.absolute(segment.path)
            facts = inspect_fmp4(path)
            if not (facts.complete and facts.size == segment.bytes and decoded_frames(path) > 0):
                corrupt.append(segment.path)
        for crash in crashes:
            # Lost before the kill: from the end of what this recorder kept (or, if it kept
            # nothing, from where its footage began) to the kill.
            kept = [s.end_ms for s in segments if crash.launched_ms <= s.start_ms < crash.killed_ms]
            after = [s.start_ms for s in segments if s.start_ms >= crash.killed_ms]
            assert after, (cam_id, crash)
            lost = crash.killed_ms - max([*kept, crash.footage_from[cam_id]])
            (lost_with_audio_ms if cam_id == AUDIO_CAMERA else lost_ms).append(lost)
            footage_s.append((min(after) - crash.relaunched_ms) / 1000)
    assert not corrupt
    assert_disk_and_index_agree(tmp_path, [])  # no .partial left behind either
    figures = {
        "kills": KILLS,
        "cameras": CRASH_CAMERAS,
        "lost_before_kill_ms": {"median": statistics.median(lost_ms), "max": max(lost_ms)},
        "lost_before_kill_with_audio_ms": {
            "median": statistics.median(lost_with_audio_ms),
            "max": max(lost_with_audio_ms),
        },
        "footage_after_relaunch_s": {
            "median": round(statistics.median(footage_s), 2),
            "max": round(max(footage_s), 2),
        },
    }
    print(json.dumps(figures))  # the figures of docs/ref/bench.md ("Crash loop")
    assert statistics.median(lost_ms) <= LOST_MEDIAN_MS, figures
    assert max(lost_ms) <= LOST_MAX_MS, figures
    assert statistics.median(lost_with_audio_ms) <= LOST_MEDIAN_MS, figures
    assert max(lost_with_audio_ms) <= LOST_MAX_MS, figures
    assert statistics.median(footage_s) <= FOOTAGE_MEDIAN_S, figures
