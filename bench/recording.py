"""Recording benchmark: our recorder against `ffmpeg -c copy -f segment` on simulated cameras.

    .venv/bin/python bench/recording.py --cameras 1,4,10,16 --seconds 60 --repeat 3 \\
        --json bench/out/recording.json

For each number of cameras and each repeat, records the cameras with our recorder, then with one
ffmpeg process per camera (the order alternates between repeats), never both at once. The camera
server starts once for the whole run. Reports CPU per stream-second, peak memory, packets lost and
whether every camera recorded without a gap; see docs/ref/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import psutil

from bench.cameras import SCENE_CHOICES, Camera, camera_specs, cameras_of
from bench.errors import BenchError
from bench.ffmpeg_baseline import FFMPEG, FfmpegRun, run_ffmpeg
from bench.meter import wait_for_quiet
from bench.ours import OursRun, run_ours
from bench.results import CountResult, Order, PairRun, table
from sim import SimCluster, SimError

PAUSE_S = 2.0  # between passes: the camera server tears down the previous clients' sessions
R = TypeVar("R", OursRun, FfmpegRun)


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
        prog="bench/recording.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cameras", type=parse_counts, default=[4], help="N or a list: 1,4,16")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (60)")
    parser.add_argument("--repeat", type=int, default=1, help="ours/ffmpeg pairs per count (1)")
    parser.add_argument("--json", type=Path, help="write the results here (e.g. bench/out/)")
    parser.add_argument("--scene", choices=SCENE_CHOICES, default="mixed", help="(mixed)")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between every camera writing and "
        "the window's start (3)"
    )  # fmt: skip
    parser.add_argument(
        "--max-noise", type=float, default=0.25, help="a window in which other processes used "
        "more cores than this is run again (0.25)"
    )  # fmt: skip
    parser.add_argument("--retries", type=int, default=2, help="at most this many times (2)")
    parser.add_argument(
        "--quiet-timeout", type=float, default=120.0, help="before each pass, wait at most this "
        "long for other processes to use fewer than --max-noise cores (120)"
    )  # fmt: skip
    parser.add_argument("--work-dir", type=Path, help="where recordings go (a temp dir)")
    return parser


def environment() -> dict[str, Any]:
    ffmpeg = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True, check=False)
    return {
        "cpus": psutil.cpu_count(),
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyav": av.__version__,
        "pyav_libavformat": ".".join(map(str, av.library_versions["libavformat"])),
        "ffmpeg": ffmpeg.stdout.splitlines()[0] if ffmpeg.stdout else "unknown",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": _git_state(),
    }


def _git_state() -> str:
    """The commit measured, with `-dirty` when the working tree has changes."""
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def run_pair(
    cameras: Sequence[Camera], sim: Any, args: argparse.Namespace, order: Order, work: Path
) -> PairRun:
    def ours() -> OursRun:
        _before_pass(sim, args)
        return run_ours(cameras, sim, args.seconds, args.settle, _fresh(work / "ours"))

    def ffmpeg() -> FfmpegRun:
        _before_pass(sim, args)
        return run_ffmpeg(cameras, sim, args.seconds, args.settle, _fresh(work / "ffmpeg"))

    if order == "ours-first":
        ours_run, ours_attempts = quietest(ours, args.max_noise, args.retries)
        ffmpeg_run, ffmpeg_attempts = quietest(ffmpeg, args.max_noise, args.retries)
    else:
        ffmpeg_run, ffmpeg_attempts = quietest(ffmpeg, args.max_noise, args.retries)
        ours_run, ours_attempts = quietest(ours, args.max_noise, args.retries)
    return PairRun(ours_run, ffmpeg_run, order, (ours_attempts, ffmpeg_attempts))


def _before_pass(sim: Any, args: argparse.Namespace) -> None:
    """Let the camera server drop the previous clients, then wait for other work to calm down."""
    time.sleep(PAUSE_S)
    others = wait_for_quiet(sim, args.max_noise, args.quiet_timeout)
    if others >= args.max_noise:
        print(f"  machine still busy ({others:.2f} cores used by others)", file=sys.stderr)


def quietest(run_pass: Callable[[], R], max_noise: float, retries: int) -> tuple[R, int]:
    """Run a pass; while other processes used more than `max_noise` cores during its window,
    run it again (at most `retries` more times) and keep the quietest. Returns it and the
    number of attempts."""
    best = run_pass()
    attempts = 1
    while best.usage.noise_cores > max_noise and attempts <= retries:
        print(
            f"  noisy window ({best.usage.noise_cores:.2f} cores used by others): again",
            file=sys.stderr,
            flush=True,
        )
        again = run_pass()
        attempts += 1
        if again.usage.noise_cores < best.usage.noise_cores:
            best = again
    return best, attempts


def _fresh(path: Path) -> Path:
    """An empty directory (recordings of the previous repeat are removed first)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_count(
    count: int, all_cameras: list[Camera], sim: Any, args: argparse.Namespace, work: Path
) -> CountResult:
    runs = []
    for repeat in range(args.repeat):
        order: Order = "ours-first" if repeat % 2 == 0 else "ffmpeg-first"
        run = run_pair(all_cameras[:count], sim, args, order, work)
        _progress(count, repeat, run)
        runs.append(run)
    return CountResult(count, args.seconds, tuple(runs))


def _progress(count: int, repeat: int, run: PairRun) -> None:
    print(
        f"  {count:>2} cameras, run {repeat + 1}: ours {run.ours.usage.cpu_s_per_stream_s:.4f}, "
        f"ffmpeg {run.ffmpeg.usage.cpu_s_per_stream_s:.4f} CPU-s/stream-s "
        f"(ratio {run.cpu_ratio:.2f}), lost {run.ours.packets.lost}, "
        f"sustained {run.ours.sustained}, noise {run.ours.usage.noise_cores:.2f}/"
        f"{run.ffmpeg.usage.noise_cores:.2f} cores",
        file=sys.stderr,
        flush=True,
    )


def report(results: list[CountResult], env: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    """One count: its result object; several: the same objects in `results`."""
    command = " ".join([".venv/bin/python bench/recording.py", *argv])
    if len(results) == 1:
        return {**results[0].to_json(), "command": command, "environment": env}
    return {"command": command, "environment": env, "results": [r.to_json() for r in results]}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    env = environment()
    results: list[CountResult] = []
    try:
        with tempfile.TemporaryDirectory(prefix="skycam-bench-", dir=args.work_dir) as tmp:
            specs = camera_specs(max(args.cameras), args.scene)
            with SimCluster(specs) as cluster:
                cameras = cameras_of(cluster)
                server = psutil.Process(cluster.server_pid)
                for count in args.cameras:
                    results.append(run_count(count, cameras, server, args, Path(tmp)))
                    _write(args.json, report(results, env, argv))  # keep what is done so far
    except (BenchError, SimError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(table(results))
    return 0


def _write(path: Path | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
