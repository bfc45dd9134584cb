"""What any recorder built on PyAV spends, against ffmpeg: the floor under issue 3's cpu_ratio.

    .venv/bin/python bench/pyav_floor.py --cameras 1,4 --seconds 60 --rounds 3 \\
        --tree now=. --json bench/out/pyav-floor.json

For each camera count, these programs read the same simulated cameras, each alone in turn, in
an order that rotates every round:
- `ffmpeg`: the issue's reference, one `ffmpeg -c copy -f segment` process per camera;
- `demux`: the recorder's PyAV reading loop and nothing else, every packet thrown away
  (`python -m bench.pyav_loop demux`); no recorder that reads its cameras with PyAV spends less;
- `mux`: that plus PyAV's fMP4 muxer, nothing else (`python -m bench.pyav_loop mux`);
- each `--tree NAME=DIR`: the recorder of a checkout, as bench/recording.py runs it.
Each gets `--warm-s` to connect and settle, then its CPU is read over `--seconds`. Reported per
count: each program's CPU-s per stream-second (median over rounds), and the median over rounds
of its ratio to ffmpeg measured in the same round. Where `demux` alone costs as much as ffmpeg,
cpu_ratio <= 1.0 is out of reach of any recorder built on PyAV (docs/design/capture.md, "Cost").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.cameras import SCENE_CHOICES, Camera, camera_specs, cameras_of
from bench.errors import BenchError
from bench.meter import measure_window
from bench.recording import environment, parse_counts
from bench.side_by_side import (
    FFMPEG,
    Variant,
    parse_tree,
    start_ffmpeg,
    start_recorder,
    stop,
)
from sim import SimCluster, SimError

LOOPS = ("demux", "mux")
REPO = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/pyav_floor.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cameras", type=parse_counts, default=[1, 4], help="N or a list (1,4)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (60)")
    parser.add_argument("--rounds", type=int, default=3, help="windows per program (3)")
    parser.add_argument("--warm-s", type=float, default=15.0, help="before each window (15)")
    parser.add_argument("--tree", type=parse_tree, action="append", default=[], help="NAME=DIR")
    parser.add_argument("--scene", choices=SCENE_CHOICES, default="mixed", help="(mixed)")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser


def start_loop(mode: str, cameras: Sequence[Camera], work: Path) -> Variant:
    command = [sys.executable, "-m", "bench.pyav_loop", mode, "--out", str(work / mode)]
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
    """Medians over rounds; each ratio is taken against ffmpeg in the same round."""
    cost = {(w["round"], w["program"]): w["cpu_s_per_stream_s"] for w in windows}
    rounds = sorted({w["round"] for w in windows})
    return {
        "cameras": cameras,
        "window_s": window_s,
        "rounds": len(rounds),
        "cpu_s_per_stream_s": {
            n: round(statistics.median(cost[r, n] for r in rounds), 5) for n in names
        },
        "ratio_to_ffmpeg": {
            n: round(statistics.median(cost[r, n] / cost[r, FFMPEG] for r in rounds), 3)
            for n in names
            if n != FFMPEG
        },
        "others_cores_max": max(w["others_cores"] for w in windows),
        "windows": windows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if len({name for name, _ in args.tree} | set(LOOPS)) != len(args.tree) + len(LOOPS):
        print(f"each --tree needs its own name, not {' or '.join(LOOPS)}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python bench/pyav_floor.py", *argv]),
        "environment": environment(),
        "results": [],
    }
    try:
        with (
            tempfile.TemporaryDirectory(prefix="skycam-floor-") as tmp,
            SimCluster(camera_specs(max(args.cameras), args.scene)) as cluster,
        ):
            cameras = cameras_of(cluster)
            sim = psutil.Process(cluster.server_pid)
            for count in args.cameras:
                counted = measure_count(cameras[:count], sim, args, Path(tmp))
                result["results"].append(counted)
                print(json.dumps({k: counted[k] for k in ("cameras", "ratio_to_ffmpeg")}))
                if args.json is not None:  # keep what is done so far
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    except (BenchError, SimError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
