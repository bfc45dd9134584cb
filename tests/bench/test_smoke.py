"""Every benchmark under bench/ runs with --smoke, end to end, and writes its figures with sane
types: benchmarks are run rarely and by hand, so without this they rot unnoticed (issue 13).

Each runs as a process of its own, as a user runs it (`python -m bench.NAME --smoke --json OUT`),
against the real recorder, simulated cameras and loopback, as its full run does."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# A smoke run is a whole bench, short: a minute or two on a busy machine, more the first time
# (the simulator encodes its scenes once, then caches them).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Benches whose --smoke run has a test of its own elsewhere.
TESTED_ELSEWHERE = {
    "launch": "tests/e2e/test_bench_launch.py",
    "push": "tests/push/test_push_bench.py",
    "remote": "tests/remote/test_remote_bench.py",  # bench/remote.py (issue 17's branch)
}
# Modules of bench/ that are parts of a bench, not benches.
PARTS = {
    "errors", "output", "recorder_child", "motion_scenes", "relay_tunnel", "remote_browser",
    "remote_cost", "web_phases",
}  # fmt: skip


def run_smoke(module: str, tmp_path: Path, *extra: str, timeout: float = 540) -> dict[str, Any]:
    out = tmp_path / f"{module}.json"
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--smoke", "--json", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert figures["smoke"] is True
    environment = figures["environment"]
    assert environment["cpus"] >= 1 and len(environment["load_average_at_start"]) == 3
    assert environment["git"]
    return figures


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_every_bench_has_a_smoke_test() -> None:
    """A bench added to bench/ without a smoke run here (or elsewhere, named above) fails."""
    here = Path(__file__).read_text(encoding="utf-8")
    benches = {p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"} - PARTS
    benches |= {p.parent.name for p in BENCH.glob("*/__main__.py")}
    for name in sorted(benches):
        if name in TESTED_ELSEWHERE:
            assert "--smoke" in (ROOT / TESTED_ELSEWHERE[name]).read_text(encoding="utf-8")
        else:
            assert f'run_smoke("{name}"' in here, f"bench/{name}: no --smoke test"


def test_recording_passes(tmp_path: Path) -> None:
    figures = run_smoke("recording", tmp_path, "--work-dir", str(tmp_path))
    assert figures["mode"] == "passes"
    (result,) = figures["results"]
    assert result["cameras"] == 1
    assert positive(result["ours"]["cpu_s_per_stream_s"])
    assert positive(result["ffmpeg"]["cpu_s_per_stream_s"])
    assert positive(result["cpu_ratio"])
    assert result["packets_lost"] == 0 and result["sustained"] is True
    (run,) = result["runs"]
    assert run["ours"]["packets_missing_from_files"] == 0 and run["ours"]["exit_code"] == 0
    assert positive(run["ours"]["packets_in_files"])


def test_recording_side_by_side(tmp_path: Path) -> None:
    figures = run_smoke("recording", tmp_path, "--side-by-side")
    (result,) = figures["results"]
    assert set(result["median_cores"]) == {"ffmpeg", "now"}
    assert all(positive(cores) for cores in result["median_cores"].values())
    ratio = result["median_ratio_to_ffmpeg"]["now"]
    assert ratio is None or positive(ratio)  # None: ffmpeg's CPU did not move in a 4 s window
    assert len(result["windows"]) == 1


def test_recording_floor(tmp_path: Path) -> None:
    figures = run_smoke("recording", tmp_path, "--floor")
    (result,) = figures["results"]
    assert set(result["cpu_s_per_stream_s"]) == {"ffmpeg", "demux", "mux"}
    assert all(finite(c) and c >= 0 for c in result["cpu_s_per_stream_s"].values())
    assert positive(result["cpu_s_per_stream_s"]["mux"])
    assert {w["program"] for w in result["windows"]} == {"ffmpeg", "demux", "mux"}


def test_api(tmp_path: Path) -> None:
    store, work = str(tmp_path / "store"), str(tmp_path / "work")
    figures = run_smoke("api", tmp_path, "--store", store, "--work", work)
    for key in ("timeline_ms", "playlist_ms", "seek_ms", "clip_10min_s", "live_start_s"):
        assert positive(figures[key]), key
    recordings = figures["setup"]["recordings"]
    assert (recordings["rows"], recordings["cameras"], recordings["days"]) == (17_280, 2, 1)


def test_reconcile(tmp_path: Path) -> None:
    figures = run_smoke("reconcile", tmp_path, "--out", str(tmp_path))
    assert (figures["rows"], figures["cameras"], figures["days"]) == (17_280, 2, 1)
    assert positive(figures["wall_s"]) and finite(figures["cpu_s"])
    (run,) = figures["runs"]
    assert run["changes"] == "reconciled: disk and index agree"  # a consistent store


@pytest.mark.timeout(900)  # the first run encodes the six labelled scenes (cached after)
def test_motion(tmp_path: Path) -> None:
    figures = run_smoke("motion", tmp_path, timeout=840)
    assert positive(figures["cpu_s_per_camera_s"])
    assert positive(figures["baseline_cpu_s_per_camera_s"])
    for key in ("precision", "recall"):
        assert figures[key] is None or 0 <= figures[key] <= 1, key
    assert isinstance(figures["targets_met"], dict)


def test_retention(tmp_path: Path) -> None:
    figures = run_smoke("retention", tmp_path, "--db", str(tmp_path / "index.db"))
    assert (figures["rows"], figures["cameras"]) == (20_000, 10)
    timings = figures["timings_ms"]
    assert len(timings) == 10 and all(positive(ms) for ms in timings.values()), timings
    # The quota is crossed by design in both space runs: each must delete something.
    assert figures["space_run"]["segments"] > 0 and figures["events_run"]["segments"] > 0


def test_relay(tmp_path: Path) -> None:
    figures = run_smoke("relay", tmp_path)
    assert figures["recorders_connected"] == 50
    assert positive(figures["connect_all_s"]) and positive(figures["reconnect_s"])
    assert positive(figures["idle_messages_per_recorder_hour"])
    assert figures["rollover_failed_calls"] == 0


def test_web(tmp_path: Path) -> None:
    if not (ROOT / "web" / "dist" / "index.html").is_file():
        pytest.fail("web/dist is not built: `make web` first (make test does)")
    figures = run_smoke("web", tmp_path)
    assert positive(figures["js_first_load_kb"]) and positive(figures["first_frame_s"])
    assert positive(figures["live_latency_s"])
    assert figures["console_errors"] == 0
    assert isinstance(figures["met"], dict)
