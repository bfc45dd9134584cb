"""The recording benchmark: our recorder against `ffmpeg -c copy -f segment` on simulated cameras.

    .venv/bin/python -m bench.recording --cameras 1,4,10,16 --seconds 60 --repeat 3 \\
        --json bench/out/recording.json                       # passes: issue 3's targets
    .venv/bin/python -m bench.recording --side-by-side --cameras 10 --tree now=. \\
        --tree before=/tmp/before --windows 8                 # versions compared within a few %
    .venv/bin/python -m bench.recording --floor --cameras 1,4 --rounds 3 --tree now=.
    .venv/bin/python -m bench.recording --smoke [--side-by-side | --floor]   # for the tests

One question, three ways to measure it: what does recording N cameras cost against ffmpeg?
- passes (the default): ours, then ffmpeg, never at once, `--repeat` times (passes.py);
- `--side-by-side`: recorder checkouts and ffmpeg all at once, read over the same windows, so
  the machine's drift cancels in the ratios (side_by_side.py);
- `--floor`: bare PyAV loops (demux only; demux and mux) against ffmpeg, each alone, to show
  what any PyAV recorder must spend (floor.py).
The camera server starts once for the whole run, with the largest count; each count uses the
first N cameras. See docs/ref/bench.md, "Recording".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.errors import BenchError
from bench.output import add_output_arguments, emit_figures, environment, write_json
from bench.recording import floor, passes, side_by_side
from bench.recording.cameras import SCENE_CHOICES, camera_specs, cameras_of
from bench.recording.results import table
from sim import SimCluster, SimError

REPO = Path(__file__).resolve().parents[2]
# Default window (s) per mode: passes and the floor run alone, side by side reads many windows.
WINDOW_S = {"passes": 60.0, "side-by-side": 20.0, "floor": 60.0}


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 1,4,10,16") from None
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: camera counts must be at least 1")
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recording",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--side-by-side", action="store_true", help="variants at the same time")
    mode.add_argument("--floor", action="store_true", help="bare PyAV loops, each alone")
    add_output_arguments(parser, "1 camera, one short window of each program")
    parser.add_argument("--cameras", type=parse_counts, default=[4], help="N or a list: 1,4,16")
    parser.add_argument(
        "--seconds", type=float, help="each measured window (passes and floor 60, side by side 20)"
    )
    parser.add_argument("--scene", choices=SCENE_CHOICES, default="mixed", help="(mixed)")
    parser.add_argument("--work-dir", type=Path, help="where recordings go (a temp dir)")
    parser.add_argument(
        "--tree", type=side_by_side.parse_tree, action="append", default=[],
        help="NAME=DIR, repeatable: a checkout's recorder (side by side: at least one; floor)",
    )  # fmt: skip
    group = parser.add_argument_group("passes")
    group.add_argument("--repeat", type=int, default=1, help="ours/ffmpeg pairs per count (1)")
    group.add_argument(
        "--settle", type=float, default=3.0, help="seconds between every camera writing and "
        "the window's start (3)"
    )  # fmt: skip
    group.add_argument(
        "--max-noise", type=float, default=0.25, help="a window in which other processes used "
        "more cores than this is run again (0.25)"
    )  # fmt: skip
    group.add_argument("--retries", type=int, default=2, help="at most this many times (2)")
    group.add_argument(
        "--quiet-timeout", type=float, default=120.0, help="before each pass, wait at most this "
        "long for other processes to use fewer than --max-noise cores (120)"
    )  # fmt: skip
    group = parser.add_argument_group("side by side and floor")
    group.add_argument("--windows", type=int, default=6, help="side by side: windows (6)")
    group.add_argument("--rounds", type=int, default=3, help="floor: windows per program (3)")
    group.add_argument("--warm-s", type=float, help="before measuring (side by side 25, floor 15)")
    return parser


def mode_of(args: argparse.Namespace) -> str:
    return "side-by-side" if args.side_by_side else "floor" if args.floor else "passes"


def settle(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fill in the mode's defaults; `--smoke` makes every run short (and never waits for a quiet
    machine: the tests run it beside other work)."""
    mode = mode_of(args)
    if args.smoke:
        args.cameras, args.repeat, args.windows, args.rounds = [1], 1, 1, 1
        args.seconds, args.settle, args.warm_s = 4.0, 1.0, 4.0
        args.max_noise, args.retries, args.quiet_timeout = float("inf"), 0, 0.0
        if mode == "side-by-side" and not args.tree:
            args.tree = [("now", REPO)]
    if args.seconds is None:
        args.seconds = WINDOW_S[mode]
    if args.warm_s is None:
        args.warm_s = 25.0 if mode == "side-by-side" else 15.0
    if mode == "side-by-side" and not args.tree:
        parser.error("--side-by-side needs at least one --tree NAME=DIR")
    if mode == "passes" and args.tree:
        parser.error("--tree is for --side-by-side and --floor: the passes measure this checkout")
    names = [name for name, _ in args.tree]
    if len(set(names)) != len(names) or set(names) & {"ffmpeg", *floor.LOOPS}:
        parser.error(f"each --tree needs a name of its own, not ffmpeg, {', '.join(floor.LOOPS)}")
    if min(args.repeat, args.windows, args.rounds) < 1:
        parser.error("--repeat, --windows and --rounds must be at least 1")


def measure(
    mode: str, count: int, cameras: list[Any], sim: Any, args: argparse.Namespace, work: Path
) -> tuple[dict[str, Any], Any]:
    """One camera count in the chosen mode: its JSON, and (passes) the result for the table."""
    work.mkdir(parents=True)
    if mode == "side-by-side":
        return side_by_side.measure_count(cameras[:count], args.tree, args, work), None
    if mode == "floor":
        return floor.measure_count(cameras[:count], sim, args, work), None
    result = passes.run_count(cameras[:count], sim, args, work)
    return result.to_json(), result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    settle(args, parser)
    mode = mode_of(args)
    report: dict[str, Any] = {
        "mode": mode,
        "smoke": args.smoke,
        "command": " ".join([".venv/bin/python -m bench.recording", *argv]),
        "environment": environment(),
        "results": [],
    }
    done = []
    try:
        with tempfile.TemporaryDirectory(prefix="skycam-bench-", dir=args.work_dir) as tmp:
            specs = camera_specs(max(args.cameras), args.scene)
            with SimCluster(specs) as cluster:
                cameras = cameras_of(cluster)
                server = psutil.Process(cluster.server_pid)
                for count in args.cameras:
                    work = Path(tmp) / f"{count}-cameras"
                    figures, result = measure(mode, count, cameras, server, args, work)
                    report["results"].append(figures)
                    if result is not None:
                        done.append(result)
                    write_json(report, args.json)  # keep what is done so far
    except (BenchError, SimError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    if done:
        print(table(done))
        write_json(report, args.json)
    else:
        emit_figures(report, args.json)
    return 0
