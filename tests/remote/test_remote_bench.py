"""The remote media bench's smoke run: real processes; the JSON carries every figure of both
clients, measured (not defaults): starts and latencies of real decoded (reference) and shown
(Chromium) frames, costs built from counted work, the browser's from its own requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.stack import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
FIGURES = ("remote_live_start_s", "remote_live_latency_s", "remote_live_latency_4s_gop_s",
           "remote_playback_start_s")  # fmt: skip


def test_the_smoke_run_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "remote.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remote.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())

    reference = figures["reference"]
    assert len(reference["remote_live_start_runs_s"]) == 2
    for name in FIGURES:
        assert 0 < reference[name] < 30, name
    assert reference["remote_live_frames"] >= 15 * reference["remote_live_parts"] // 2
    counts = reference["viewer_counts"]
    assert counts["uploads"] > 0 and counts["downloads"] > 0 and counts["download_bytes"] > 0
    assert (
        0
        < reference["relay_cost_usd_per_viewer_hour"]
        == reference["relay_cost_breakdown_usd"]["total"]
    )

    browser = figures["browser"]
    assert browser["failures"] == []
    assert len(browser["remote_live_start_runs_s"]) == 2
    assert len(browser["remote_playback_start_runs_s"]) == 2
    for name in FIGURES:
        assert 0 < browser[name] < 30, name
    # Frames shown at 15 fps over 2 x 5 s per camera, well over half of them with a latency,
    # in two live sessions of each camera.
    assert browser["remote_live_latency_frames"] > 60
    assert browser["remote_live_latency_4s_gop_frames"] > 60
    for name in ("remote_live_latency_sessions_s", "remote_live_latency_4s_gop_sessions_s"):
        assert len(browser[name]) == 2 and all(0 < s < 30 for s in browser[name]), name
    assert 0 < browser["remote_live_latency_window_s"] < 30
    window = browser["viewer_counts"]
    assert window["uploads"] > 0 and window["upload_bytes"] > 0
    # The browser fetched parts by signed links and renewed its lease through the tunnel.
    assert window["objects"] > 0 and window["object_bytes"] > 100_000 and window["links"] > 0
    assert window["ws_sent"] > 0 and window["ws_received"] > 0
    assert window["failed"] == 0
    assert (
        0
        < browser["relay_cost_usd_per_viewer_hour"]
        == browser["relay_cost_breakdown_usd"]["total"]
    )

    # The headline is what users run, and the top level repeats its figures.
    assert figures["headline_client"] == "browser"
    for name in (*FIGURES, "relay_cost_usd_per_viewer_hour"):
        assert figures[name] == browser[name], name
    assert figures["environment"]["load_average_at_start"]
