"""What a client sees of a simulated camera, through PyAV (as the recorder sees it).

A plain module, not a conftest, named to avoid clashing with other test folders' helpers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np

# Fast opens: the simulator sends SPS/PPS with every IDR, one per second.
OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "1500000", "probesize": "500000"}


@contextmanager
def open_rtsp(
    url: str, read_timeout_s: float = 5.0, open_timeout_s: float = 15.0, video_only: bool = False
) -> Iterator[Any]:
    options = {**OPTIONS, "allowed_media_types": "video"} if video_only else OPTIONS
    container = av.open(url, options=options, timeout=(open_timeout_s, read_timeout_s))
    try:
        yield container
    finally:
        container.close()


@dataclass
class PacketLog:
    """Per packet: arrival (monotonic s), PTS, keyframe flag; and how the read ended."""

    arrivals: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    keyframes: list[bool] = field(default_factory=list)
    time_base: Fraction | None = None
    codec: str = ""
    sample_rate: int = 0
    opened_at: float = 0.0
    ended_at: float = 0.0
    ended_by: str = "time"  # "time", "eof" or the exception's class name
    error: BaseException | None = None

    def max_gap_s(self) -> float:
        return float(np.diff(self.arrivals).max()) if len(self.arrivals) > 1 else 0.0


def read_packets(
    url: str, seconds: float, kind: str = "video", read_timeout_s: float = 5.0
) -> PacketLog:
    """Demux `kind` packets for `seconds` after opening (or until the stream ends or fails)."""
    log = PacketLog()
    try:
        with open_rtsp(url, read_timeout_s) as container:
            log.opened_at = time.monotonic()
            streams = container.streams.video if kind == "video" else container.streams.audio
            stream = streams[0]
            log.time_base = stream.time_base
            log.codec = stream.codec_context.name
            log.sample_rate = getattr(stream.codec_context, "sample_rate", 0) or 0
            deadline = log.opened_at + seconds
            log.ended_by = "eof"
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet PyAV yields at end of stream
                    break
                if packet.pts is not None:  # None only before RTP timing is known
                    log.arrivals.append(time.monotonic())
                    log.pts.append(packet.pts)
                    log.keyframes.append(packet.is_keyframe)
                if time.monotonic() >= deadline:
                    log.ended_by = "time"
                    break
    except (av.error.FFmpegError, OSError) as exc:
        log.ended_by = type(exc).__name__
        log.error = exc
    log.ended_at = time.monotonic()
    return log


@dataclass
class Decoded:
    width: int
    height: int
    time_base: Fraction
    wall: list[float] = field(default_factory=list)  # time.time() when its packet arrived
    pts: list[int] = field(default_factory=list)
    gray: list[np.ndarray] = field(default_factory=list)
    errors: int = 0


def decode(url: str, seconds: float, keep_gray: bool = False, video_only: bool = False) -> Decoded:
    """Decode video for `seconds` after opening; count decode errors instead of stopping.

    `video_only` sets up the video track alone: FFmpeg then has no second stream to align on the
    first RTCP sender reports, so the PTS are the camera's, never re-based (docs/ref/sim.md).
    """
    with open_rtsp(url, video_only=video_only) as container:
        stream = container.streams.video[0]
        result = Decoded(0, 0, stream.time_base)
        deadline = time.monotonic() + seconds
        # Frames leave a threaded decoder a few packets late: time them by their packet.
        arrivals: dict[int, float] = {}
        for packet in container.demux(stream):
            if time.monotonic() >= deadline or packet.size == 0:
                break
            if packet.pts is not None:
                arrivals[packet.pts] = time.time()
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                result.errors += 1
                continue
            for frame in frames:
                result.width, result.height = frame.width, frame.height
                if frame.pts is None or frame.pts not in arrivals:  # before RTP timing is known
                    continue
                result.wall.append(arrivals.pop(frame.pts))
                result.pts.append(frame.pts)
                if keep_gray:
                    result.gray.append(frame.to_ndarray(format="gray"))
        return result


def file_frame_pairs(path: str) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(n, frame n-1, frame n) in grayscale for every frame n >= 1 of an encoded file, decoded
    as it goes: a minute of 720p kept whole would take most of a gigabyte."""
    with av.open(path) as container:
        previous = None
        for n, frame in enumerate(container.decode(video=0)):
            gray = frame.to_ndarray(format="gray")
            if previous is not None:
                yield n, previous, gray
            previous = gray


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 40) -> np.ndarray:
    """Pixels whose grey level differs by more than `threshold`: far above the sensor noise."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)) > threshold
