"""What every benchmark shares on its command line and in its output (docs/ref/bench.md).

Every bench takes `--json OUT` (write the figures there) and `--smoke` (a short run of the real
path that the test suite runs, tests/bench/, so no benchmark can rot unnoticed). Its JSON holds
its figures, `smoke`, and `environment`: the machine and its state when measured (load, git
commit), because figures of a 2-core machine shared with other work mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import av
import psutil

REPO = Path(__file__).resolve().parent.parent
FFMPEG = "/usr/bin/ffmpeg"  # Debian's: the reference the recording benchmark compares against


def add_output_arguments(parser: argparse.ArgumentParser, smoke: str) -> None:
    """`--json OUT` and `--smoke`; `smoke` says what the short run does."""
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures here")
    parser.add_argument("--smoke", action="store_true", help=f"a short run for the tests: {smoke}")


def environment() -> dict[str, Any]:
    """The machine and its state now: what the figures were measured on."""
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
        "git": git_state(),
    }


def git_state() -> str:
    """The commit measured, with `-dirty` when the working tree has changes."""
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def write_json(figures: dict[str, Any], json_path: Path | None, *, indent: int = 2) -> None:
    """Write the figures to `--json` (if given) without printing: progress kept as it comes."""
    if json_path is None:
        return
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(figures, indent=indent) + "\n", encoding="utf-8")


def emit_figures(figures: dict[str, Any], json_path: Path | None, *, indent: int = 2) -> None:
    """A bench's figures as it hands them over: printed, and written to `--json` when asked."""
    print(json.dumps(figures, indent=indent))
    write_json(figures, json_path, indent=indent)
