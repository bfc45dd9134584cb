"""Recorder variants and ffmpeg recording the same cameras at the same time: ratios to a few %.

    .venv/bin/python bench/side_by_side.py --cameras 16 --tree now=. --tree before=/tmp/before \\
        --windows 6 --json bench/out/side-by-side.json

`bench/recording.py` measures its passes one after another, as the issue asks; the machine's
state moves such windows by ±15 %, which hides differences of a few percent. Here every
variant runs at once against one camera server and their CPU is read over the same windows, so
the drift is common to all and cancels in the ratios (±3 % within a run, ±5 % between runs on
the 2-core VM of docs/design/capture.md). The price: the variants share the cores, so absolute
figures are those of a busier machine than a recorder alone sees.

Each `--tree NAME=DIR` is a checkout holding `recorder/` and `bench/` (`git worktree add DIR
COMMIT` makes one; do not copy `bench/out`, which holds hard links). Its recorder runs as
`python -m bench.recorder_child` from DIR, with the configuration `bench/recording.py` uses.
The reference is one `ffmpeg -c copy -f segment` process per camera, as in bench/recording.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.cameras import SCENE_CHOICES, Camera, camera_specs, cameras_of
from bench.errors import BenchError
from bench.ffmpeg_baseline import ffmpeg_command
from bench.meter import cpu_seconds
from bench.ours import write_config
from sim import SimCluster, SimError

FFMPEG = "ffmpeg"  # the reference variant's name


@dataclass
class Variant:
    name: str
    processes: list[subprocess.Popen[bytes]]

    def watched(self) -> list[Any]:
        return [psutil.Process(p.pid) for p in self.processes if p.poll() is None]

    def check(self) -> None:
        dead = [p for p in self.processes if p.poll() is not None]
        if dead:
            raise BenchError(f"{self.name}: process {dead[0].pid} exited with {dead[0].returncode}")


def parse_tree(text: str) -> tuple[str, Path]:
    name, sep, directory = text.partition("=")
    path = Path(directory).resolve()
    if not sep or not name or name == FFMPEG:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=DIR (NAME not {FFMPEG!r})")
    if not (path / "recorder").is_dir() or not (path / "bench" / "recorder_child.py").is_file():
        raise argparse.ArgumentTypeError(f"{path} holds no recorder/ and bench/recorder_child.py")
    return name, path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/side_by_side.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cameras", type=int, default=16, help="simulated cameras (16)")
    parser.add_argument(
        "--tree", type=parse_tree, action="append", required=True, help="NAME=DIR, repeatable"
    )
    parser.add_argument("--windows", type=int, default=6, help="measured windows (6)")
    parser.add_argument("--window-s", type=float, default=20.0, help="seconds each (20)")
    parser.add_argument("--warm-s", type=float, default=25.0, help="before the first (25)")
    parser.add_argument("--scene", choices=SCENE_CHOICES, default="mixed", help="(mixed)")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser


def start_ffmpeg(cameras: Sequence[Camera], work: Path) -> Variant:
    processes = []
    for camera in cameras:
        out = work / FFMPEG / camera.camera_id
        out.mkdir(parents=True)
        command = ffmpeg_command(camera.url_with_credentials, out)
        processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
    return Variant(FFMPEG, processes)


def start_recorder(name: str, tree: Path, cameras: Sequence[Camera], work: Path) -> Variant:
    home = work / name
    home.mkdir()
    config = home / "recorder.toml"
    write_config(config, home / "data", cameras)
    command = [sys.executable, "-m", "bench.recorder_child", "--config", str(config)]
    command += ["--health-out", str(home / "health.json")]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with (home / "recorder.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=log)
    return Variant(name, [process])


def measure(variants: Sequence[Variant], windows: int, window_s: float) -> list[dict[str, float]]:
    """Cores of each variant over each window, all read at the same instants."""
    rows = []
    for _ in range(windows):
        for variant in variants:
            variant.check()
        before = [cpu_seconds(v.watched()) for v in variants]
        start = time.monotonic()
        time.sleep(window_s)
        after = [cpu_seconds(v.watched()) for v in variants]
        elapsed = time.monotonic() - start
        row = {v.name: (b - a) / elapsed for v, a, b in zip(variants, before, after, strict=True)}
        rows.append(row)
        ratios = ", ".join(f"{k} {row[k] / row[FFMPEG]:.3f}" for k in row if k != FFMPEG)
        print(f"  ffmpeg {row[FFMPEG]:.4f} cores; ratios: {ratios}", file=sys.stderr, flush=True)
    return rows


def summarize(rows: list[dict[str, float]]) -> dict[str, Any]:
    names = list(rows[0])
    return {
        "median_cores": {n: round(statistics.median(r[n] for r in rows), 5) for n in names},
        "median_ratio_to_ffmpeg": {
            n: round(statistics.median(r[n] / r[FFMPEG] for r in rows), 4)
            for n in names
            if n != FFMPEG
        },
        "windows": [{n: round(v, 5) for n, v in row.items()} for row in rows],
    }


def stop(variants: Sequence[Variant]) -> None:
    processes = [p for v in variants for p in v.processes]
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    names = [name for name, _ in args.tree]
    if len(set(names)) != len(names):
        print("each --tree needs a name of its own", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="skycam-side-") as tmp:
            work = Path(tmp)
            with SimCluster(camera_specs(args.cameras, args.scene)) as cluster:
                cameras = cameras_of(cluster)
                variants = [start_ffmpeg(cameras, work)]
                try:
                    for name, tree in args.tree:
                        variants.append(start_recorder(name, tree, cameras, work))
                    time.sleep(args.warm_s)
                    rows = measure(variants, args.windows, args.window_s)
                finally:
                    stop(variants)
    except (BenchError, SimError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    result = {
        "cameras": args.cameras,
        "window_s": args.window_s,
        "command": " ".join([".venv/bin/python bench/side_by_side.py", *argv]),
        **summarize(rows),
    }
    print(json.dumps({k: result[k] for k in ("median_cores", "median_ratio_to_ffmpeg")}))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
