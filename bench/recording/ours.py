"""One measured pass of our recorder: a process of its own, recording the cameras for a window.

The recorder runs as `python -m bench.recorder_child` (the `skycam recorder` command plus a health
report at exit). Its CPU is counted from the moment every camera is writing, over exactly the
window; its memory is sampled from launch to exit. It is stopped with SIGTERM and must exit 0.
Afterwards its packet counters, its index and its files are read to check nothing was lost.
"""

from __future__ import annotations

import json
import signal
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
from bench.recording.meter import MemorySampler, Usage, measure_window, usage
from bench.recording.segments import (
    Continuity,
    continuity,
    indexed_segments,
    packets_in_files,
    wait_until_writing,
)

REPO = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Packets:
    """The recorder's own counters, summed over cameras, and what the files hold."""

    received: int
    written: int
    skipped: int  # by design: before a run's first keyframe
    in_files: int  # data packets found in the indexed segment files

    @property
    def lost(self) -> int:
        return self.received - self.written - self.skipped


@dataclass(frozen=True)
class OursRun:
    usage: Usage
    packets: Packets
    cameras: tuple[Continuity, ...]
    reconnects: int
    exit_code: int

    @property
    def segments(self) -> int:
        return sum(camera.segments for camera in self.cameras)

    @property
    def segments_per_camera(self) -> dict[str, int]:
        return {camera.camera_id: camera.segments for camera in self.cameras}

    @property
    def sustained(self) -> bool:
        return self.reconnects == 0 and all(camera.sustained for camera in self.cameras)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.usage.to_json(),
            "packets_received": self.packets.received,
            "packets_written": self.packets.written,
            "packets_skipped": self.packets.skipped,
            "packets_lost": self.packets.lost,
            "packets_in_files": self.packets.in_files,
            "packets_missing_from_files": self.packets.written - self.packets.in_files,
            "segments": self.segments,
            "segments_per_camera": self.segments_per_camera,
            "runs_per_camera": {c.camera_id: c.runs for c in self.cameras},
            "gaps": sum(c.gaps for c in self.cameras),
            "reconnects": self.reconnects,
            "sustained": self.sustained,
            "exit_code": self.exit_code,
        }


def run_ours(
    cameras: Sequence[Camera], sim: Any, seconds: float, settle_s: float, work: Path
) -> OursRun:
    data_dir = work / "data"
    config = work / "recorder.toml"
    health_out = work / "health.json"
    write_config(config, data_dir, cameras)
    command = [sys.executable, "-m", "bench.recorder_child", "--config", str(config)]
    command += ["--health-out", str(health_out)]
    with (work / "recorder.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    watched = psutil.Process(process.pid)
    try:
        with MemorySampler(lambda: [watched]) as memory:
            launched = time.monotonic()

            def check() -> None:
                if process.poll() is not None:
                    raise BenchError(f"recorder exited with {process.returncode}: {_tail(work)}")

            dirs = {c.camera_id: data_dir / "recordings" / c.camera_id for c in cameras}
            wait_until_writing(dirs, "*.mp4*", CONNECT_TIMEOUT_S, check)
            startup_s = time.monotonic() - launched
            time.sleep(settle_s)
            window_ms = [round(time.time() * 1000)]
            window = measure_window(lambda: [watched], sim, seconds, check)
            window_ms.append(round(time.time() * 1000))
            exit_code = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if exit_code != 0:
        raise BenchError(f"recorder exited with {exit_code} after SIGTERM: {_tail(work)}")
    return OursRun(
        usage=usage(len(cameras), window, memory.peak, startup_s),
        packets=_packets(health_out, data_dir),
        cameras=_continuity(data_dir, [c.camera_id for c in cameras], (window_ms[0], window_ms[1])),
        reconnects=sum(int(h["reconnects"]) for h in _health(health_out)),
        exit_code=exit_code,
    )


def write_config(path: Path, data_dir: Path, cameras: Sequence[Camera]) -> None:
    """A recorder config (docs/ref/config.md) with the defaults, as a user would write it,
    except motion detection, which is off: ffmpeg only copies, so the comparison is recording
    against recording (motion's own cost is bench/motion.py's)."""
    # The API stays on (it is part of what a user runs), on free ports: no clash with a recorder
    # or a test already listening on the default ones.
    lines = [
        f"data_dir = {_toml(str(data_dir))}",
        "",
        "[api]",
        "https_port = 0",
        "http_port = 0",
        "",
    ]
    for camera in cameras:
        lines += ["[[cameras]]", f"id = {_toml(camera.camera_id)}"]
        lines += [f"main_url = {_toml(camera.url)}", f"username = {_toml(camera.user)}"]
        lines += [f"password = {_toml(camera.password)}", ""]
        lines += ["[cameras.motion]", 'source = "off"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)


def _toml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"recorder still running {STOP_TIMEOUT_S:.0f} s after SIGTERM") from None


def _health(health_out: Path) -> list[dict[str, Any]]:
    report: list[dict[str, Any]] = json.loads(health_out.read_text(encoding="utf-8"))
    return report


def _packets(health_out: Path, data_dir: Path) -> Packets:
    health = _health(health_out)
    paths = [data_dir / row.path for rows in indexed_segments(data_dir).values() for row in rows]
    return Packets(
        received=sum(int(h["packets_received"]) for h in health),
        written=sum(int(h["packets_written"]) for h in health),
        skipped=sum(int(h["packets_skipped"]) for h in health),
        in_files=packets_in_files(paths),
    )


def _continuity(
    data_dir: Path, camera_ids: list[str], window_ms: tuple[int, int]
) -> tuple[Continuity, ...]:
    rows = indexed_segments(data_dir)
    return tuple(continuity(cam, rows.get(cam, []), window_ms) for cam in camera_ids)


def _tail(work: Path, lines: int = 15) -> str:
    log = work / "recorder.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
