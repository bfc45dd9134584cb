"""Side by side: recorder variants and ffmpeg recording the same cameras at the same time.

Passes measured one after another move by ±15 % with the machine's state, which hides
differences of a few percent. Here every variant runs at once against one camera server and
their CPU is read over the same windows, so the drift is common to all and cancels in the
ratios (±3 % within a run, ±5 % between runs on the 2-core VM of docs/design/capture.md). The
price: the variants share the cores, so absolute figures are those of a busier machine than a
recorder alone sees.

Each `--tree NAME=DIR` is a checkout holding `recorder/` and `bench/recorder_child.py` (`git
worktree add DIR COMMIT`, or `git archive COMMIT | tar -x -C DIR`, makes one; do not copy
`bench/out`, which holds hard links). Its recorder runs as `python -m bench.recorder_child` from
DIR, with the configuration the passes use (ours.write_config). The reference is one `ffmpeg -c
copy -f segment` process per camera, as in the passes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.errors import BenchError
from bench.recording.cameras import Camera
from bench.recording.ffmpeg_baseline import ffmpeg_command
from bench.recording.meter import cpu_seconds
from bench.recording.ours import write_config

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
        ratios = ", ".join(f"{k} {_ratio(row[k], row[FFMPEG])}" for k in row if k != FFMPEG)
        print(f"  ffmpeg {row[FFMPEG]:.4f} cores; ratios: {ratios}", file=sys.stderr, flush=True)
    return rows


def _ratio(cores: float, ffmpeg: float) -> str:
    return f"{cores / ffmpeg:.3f}" if ffmpeg > 0 else "-"


def summarize(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of each window's ratio. A window in which ffmpeg's CPU did not move (psutil
    counts in 10 ms ticks: only a very short one) gives no ratio; none at all gives None."""
    names = list(rows[0])
    measured = [r for r in rows if r[FFMPEG] > 0]
    return {
        "median_cores": {n: round(statistics.median(r[n] for r in rows), 5) for n in names},
        "median_ratio_to_ffmpeg": {
            n: round(statistics.median(r[n] / r[FFMPEG] for r in measured), 4) if measured else None
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


def measure_count(
    cameras: Sequence[Camera], trees: Sequence[tuple[str, Path]], args: argparse.Namespace,
    work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Every variant and ffmpeg on these cameras at once: `--windows` windows of `--seconds`
    after `--warm-s`."""
    variants = [start_ffmpeg(cameras, work)]
    try:
        for name, tree in trees:
            variants.append(start_recorder(name, tree, cameras, work))
        time.sleep(args.warm_s)
        rows = measure(variants, args.windows, args.seconds)
    finally:
        stop(variants)
    return {"cameras": len(cameras), "window_s": args.seconds, **summarize(rows)}
