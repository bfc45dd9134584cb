"""One measured pass of the reference: one `ffmpeg -c copy -f segment` process per camera.

What Frigate and most small NVRs run. Measured like our recorder: CPU of all the ffmpeg
processes from the moment each one is writing, over exactly the window; memory summed over the
processes, sampled from launch to exit. Each is stopped with SIGINT, which makes ffmpeg finish
the segment in flight (it then exits 255: "received signal 2").
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.errors import BenchError
from bench.output import FFMPEG
from bench.recording.cameras import Camera
from bench.recording.meter import MemorySampler, Usage, measure_window, usage
from bench.recording.segments import packets_in_files, wait_until_writing

CONNECT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
CLEAN_EXITS = (0, 255)  # 255: stopped by a signal, after writing its trailer


def ffmpeg_command(url: str, out_dir: Path, segment_s: int = 10) -> list[str]:
    """The command of the issue; the logging flags only keep ffmpeg's progress line quiet."""
    return [
        FFMPEG,
        *("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"),
        *("-rtsp_transport", "tcp", "-i", url, "-c", "copy"),
        *("-f", "segment", "-segment_time", str(segment_s), "-reset_timestamps", "1"),
        str(out_dir / "%05d.mp4"),
    ]


@dataclass(frozen=True)
class FfmpegRun:
    usage: Usage
    segments_per_camera: dict[str, int]
    packets_in_files: int
    exit_codes: tuple[int, ...]

    @property
    def segments(self) -> int:
        return sum(self.segments_per_camera.values())

    def to_json(self) -> dict[str, Any]:
        return {
            **self.usage.to_json(),
            "segments": self.segments,
            "segments_per_camera": self.segments_per_camera,
            "packets_in_files": self.packets_in_files,
            "exit_codes": sorted(set(self.exit_codes)),
        }


def run_ffmpeg(
    cameras: Sequence[Camera], sim: Any, seconds: float, settle_s: float, work: Path
) -> FfmpegRun:
    dirs = {c.camera_id: work / c.camera_id for c in cameras}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for camera in cameras:
            out = dirs[camera.camera_id]
            out.mkdir(parents=True)
            with (work / f"{camera.camera_id}.log").open("wb") as log:
                command = ffmpeg_command(camera.url_with_credentials, out)
                processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        watched = [psutil.Process(p.pid) for p in processes]
        with MemorySampler(lambda: watched) as memory:
            launched = time.monotonic()

            def check() -> None:
                pairs = zip(cameras, processes, strict=True)
                dead = [c.camera_id for c, p in pairs if p.poll() is not None]
                if dead:
                    raise BenchError(f"ffmpeg exited early for {dead}: {_tail(work, cameras)}")

            wait_until_writing(dirs, "*.mp4", CONNECT_TIMEOUT_S, check)
            startup_s = time.monotonic() - launched
            time.sleep(settle_s)
            window = measure_window(lambda: watched, sim, seconds, check)
            exit_codes = _stop(processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    if any(code not in CLEAN_EXITS for code in exit_codes):
        raise BenchError(f"ffmpeg exit codes {exit_codes}: {_tail(work, cameras)}")
    files = {cam: sorted(d.glob("*.mp4")) for cam, d in dirs.items()}
    return FfmpegRun(
        usage=usage(len(cameras), window, memory.peak, startup_s),
        segments_per_camera={cam: len(paths) for cam, paths in files.items()},
        packets_in_files=packets_in_files(p for paths in files.values() for p in paths),
        exit_codes=exit_codes,
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> tuple[int, ...]:
    for process in processes:
        process.send_signal(signal.SIGINT)
    try:
        return tuple(process.wait(STOP_TIMEOUT_S) for process in processes)
    except subprocess.TimeoutExpired:
        raise BenchError(f"ffmpeg still running {STOP_TIMEOUT_S:.0f} s after SIGINT") from None


def _tail(work: Path, cameras: Sequence[Camera], lines: int = 5) -> str:
    tails = []
    for camera in cameras:
        log = work / f"{camera.camera_id}.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if text.strip():
            tails.append(f"{camera.camera_id}: " + " | ".join(text.splitlines()[-lines:]))
    return "; ".join(tails) or "no output"
