"""Fixtures shared by every tier: test clips made once per session with Debian's ffmpeg."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ClipFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> ClipFactory:
    """Build (once per parameters) an H.264 clip with a GOP of `gop_s` (default 1 s) and
    `bframes` B-frames (default none), optionally with AAC audio, as an RTSP camera would send
    it."""
    cache: dict[tuple[object, ...], Path] = {}
    folder = tmp_path_factory.mktemp("clips")

    def make(
        seconds: float = 12,
        fps: int = 15,
        size: str = "320x240",
        audio: bool = True,
        gop_s: float = 1,
        bframes: int = 0,
    ) -> Path:
        key = (seconds, fps, size, audio, gop_s, bframes)
        if key in cache:
            return cache[key]
        out = folder / f"clip-{len(cache)}.mkv"
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi"]
        cmd += ["-i", f"testsrc2=size={size}:rate={fps}"]
        if audio:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
        cmd += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-bf", str(bframes)]
        cmd += [
            "-g",
            str(round(fps * gop_s)),
            "-keyint_min",
            str(round(fps * gop_s)),
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
        ]
        if audio:
            cmd += ["-c:a", "aac", "-b:a", "32k"]
        subprocess.run([*cmd, str(out)], check=True)
        cache[key] = out
        return out

    return make
