"""The floor: what any recorder built on PyAV spends, against ffmpeg, each program alone in turn.

For each camera count, these programs read the same simulated cameras, one at a time, in an
order that rotates every round:
- `ffmpeg`: the issue's reference, one `ffmpeg -c copy -f segment` process per camera;
- `demux`: the recorder's PyAV reading loop and nothing else, every packet thrown away
  (`python -m bench.recording.pyav_loop demux`); no recorder that reads with PyAV spends less;
- `mux`: that plus PyAV's fMP4 muxer, nothing else (`... pyav_loop mux`);
- each `--tree NAME=DIR`: the recorder of a checkout, as the passes run it.
Each gets `--warm-s` to connect and settle, then its CPU is read over `--seconds`. Reported per
count: each program's CPU-s per stream-second (median over rounds), and the median over rounds
of its ratio to ffmpeg measured in the same round. Where `demux` alone costs as much as ffmpeg,
cpu_ratio <= 1.0 is out of reach of any recorder built on PyAV (docs/design/capture.md, "Cost").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.recording.cameras import Camera
from bench.recording.meter import measure_window
from bench.recording.side_by_side import (
    FFMPEG,
    Variant,
    start_ffmpeg,
    start_recorder,
    stop,
)

LOOPS = ("demux", "mux")
REPO = Path(__file__).resolve().parents[2]


def start_loop(mode: str, cameras: Sequence[Camera], work: Path) -> Variant:
    command = [sys.executable, "-m", "bench.recording.pyav_loop", mode, "--out", str(work / mode)]
    command += [camera.url_with_credentials for camera in cameras]
    return Variant(mode, [subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL)])


def measure_count(
    cameras: Sequence[Camera], sim: Any, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    names = [FFMPEG, *LOOPS, *(name for name, _ in args.tree)]
    trees = dict(args.tree)
    windows: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            with tempfile.TemporaryDirectory(prefix=f"{name}-", dir=work) as tmp:
                if name == FFMPEG:
                    variant = start_ffmpeg(cameras, Path(tmp))
                elif name in LOOPS:
                    variant = start_loop(name, cameras, Path(tmp))
                else:
                    variant = start_recorder(name, trees[name], cameras, Path(tmp))
                try:
                    # Settling, not counted; a program that dies meanwhile fails the run.
                    measure_window(variant.watched, sim, args.warm_s, variant.check)
                    window = measure_window(variant.watched, sim, args.seconds, variant.check)
                finally:
                    stop([variant])
            cost = window.cpu_s / window.wall_s / len(cameras)
            windows.append(
                {
                    "round": round_,
                    "program": name,
                    "cpu_s_per_stream_s": round(cost, 5),
                    "others_cores": round(window.others_cores, 3),
                }
            )
            print(
                f"{len(cameras)} camera(s), round {round_}: {name} {cost:.5f} CPU-s/stream-s",
                file=sys.stderr,
                flush=True,
            )
    return summarize(len(cameras), args.seconds, names, windows)


def summarize(
    cameras: int, window_s: float, names: Sequence[str], windows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Medians over rounds; each ratio is taken against ffmpeg in the same round (a round in
    which ffmpeg's CPU did not move, possible only in a very short window, gives none)."""
    cost = {(w["round"], w["program"]): w["cpu_s_per_stream_s"] for w in windows}
    rounds = sorted({w["round"] for w in windows})
    measured = [r for r in rounds if cost[r, FFMPEG] > 0]
    return {
        "cameras": cameras,
        "window_s": window_s,
        "rounds": len(rounds),
        "cpu_s_per_stream_s": {
            n: round(statistics.median(cost[r, n] for r in rounds), 5) for n in names
        },
        "ratio_to_ffmpeg": {
            n: round(statistics.median(cost[r, n] / cost[r, FFMPEG] for r in measured), 3)
            if measured
            else None
            for n in names
            if n != FFMPEG
        },
        "others_cores_max": max(w["others_cores"] for w in windows),
        "windows": windows,
    }
