"""The remote media bench's smoke run: real processes; the JSON carries every figure, measured
(not defaults): starts and latencies of real decoded frames, a cost built from counted work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_smoke_run_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "remote.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remote.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert len(figures["remote_live_start_runs_s"]) == 2
    for name in ("remote_live_start_s", "remote_live_latency_s", "remote_live_latency_4s_gop_s",
                 "remote_playback_start_s"):  # fmt: skip
        assert 0 < figures[name] < 30, name
    assert figures["remote_live_frames"] >= 15 * figures["remote_live_parts"] // 2
    counts = figures["viewer_counts"]
    assert counts["uploads"] > 0 and counts["downloads"] > 0 and counts["download_bytes"] > 0
    assert (
        0
        < figures["relay_cost_usd_per_viewer_hour"]
        == figures["relay_cost_breakdown_usd"]["total"]
    )
