"""Decoding for analysis: rate sampling, luma extraction, on a real H.264 clip."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from cv2.typing import MatLike

from recorder.motion.frames import FrameDecoder, RateSampler, configure_decoder, to_gray


def test_sampling_15_fps_at_5_takes_every_third_frame() -> None:
    sampler = RateSampler(5)
    taken = [n for n in range(45) if sampler.due(n / 15)]
    assert taken == list(range(0, 45, 3))


def test_sampling_survives_timestamp_jumps() -> None:
    sampler = RateSampler(5)
    assert sampler.due(100.0)
    assert not sampler.due(100.1)
    assert sampler.due(5.0)  # PTS reset (camera rebooted)
    assert sampler.due(5.2)
    assert sampler.due(500.0)  # a jump forward
    assert not sampler.due(500.05)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess

    out = tmp_path_factory.mktemp("frames") / "clip.mkv"
    cmd = [
        "ffmpeg",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=15",
    ]
    cmd += ["-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "15"]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(out)], check=True, timeout=60)
    return out


def decode_all(clip: Path, fast: bool) -> tuple[int, list[MatLike]]:
    container = av.open(str(clip))
    try:
        video = container.streams.video[0]
        configure_decoder(video, fast=fast)
        decoder = FrameDecoder(video, fps=5, width=160)
        grays = [s.gray for p in container.demux(video) for s in decoder.decode(p, 0.0)]
        return decoder.decoded, grays
    finally:
        container.close()


def test_every_frame_is_decoded_and_analysis_frames_are_small_gray(clip: Path) -> None:
    decoded, grays = decode_all(clip, fast=True)
    assert decoded == 60
    assert len(grays) == 20
    assert all(g.shape == (90, 160) and g.dtype == np.uint8 for g in grays)


def test_gray_is_the_luma_plane_shrunk(clip: Path) -> None:
    container = av.open(str(clip))
    frame = next(container.decode(video=0))
    luma = frame.to_ndarray()[: frame.height]  # yuv420p: the Y rows come first
    container.close()
    expected = cv2.resize(luma, (160, 90), interpolation=cv2.INTER_AREA)
    # Studio range (16-235), not stretched like swscale's "gray": thresholds are relative.
    assert np.array_equal(to_gray(frame, 160), expected)


def test_skipping_the_deblocking_filter_changes_little(clip: Path) -> None:
    _, fast = decode_all(clip, fast=True)
    _, exact = decode_all(clip, fast=False)
    errors = [
        np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(fast, exact, strict=True)
    ]
    assert max(errors) < 2.0
