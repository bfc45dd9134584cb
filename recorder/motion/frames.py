"""From demuxed packets to small grayscale frames at the analysis rate.

Every packet of the video is decoded (a P-frame needs the frames before it), but only frames due
at the analysis rate are converted, and cheaply: the luma plane of a YUV frame already is the
grayscale picture, so it is viewed in place and shrunk with `cv2.resize(INTER_AREA)`; no colour
conversion, no swscale. Decoding runs single-threaded (frame threads add latency and overhead
at 640x360) and, by default, without the in-loop deblocking filter, which saves about a fifth of
the decode and changes nothing a blurred 160-pixel picture can see (docs/design/motion.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from recorder.av_errors import CAUGHT, translate
from recorder.errors import StreamUnusable
from recorder.motion.analysis import Gray, analysis_size

LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}


@dataclass(frozen=True)
class SampledFrame:
    at: float  # wall-clock seconds when its packet arrived
    gray: Gray  # analysis size
    frame: Any  # the decoded av.VideoFrame, kept for a thumbnail


class RateSampler:
    """Picks frames at `fps` by their presentation time; tolerant of jitter and PTS jumps."""

    def __init__(self, fps: float) -> None:
        self._period = 1.0 / fps
        self._next: float | None = None

    def due(self, t: float) -> bool:
        period = self._period
        if self._next is None or not self._next - 2 * period <= t <= self._next + 1:
            self._next = t + period  # first frame, or the timestamps jumped: start over
            return True
        # A tenth of a period of slack absorbs rounding: 15 fps at 5 takes every third frame.
        if t + period * 0.1 >= self._next:
            self._next = max(self._next + period, t)
            return True
        return False


def configure_decoder(video_stream: Any, *, fast: bool = True) -> None:
    """Single thread; with `fast`, skip the deblocking filter. Call before the first decode."""
    context = video_stream.codec_context
    context.thread_count = 1
    if fast:
        context.options = {"skip_loop_filter": "all"}


def to_gray(frame: Any, width: int) -> Gray:
    """The frame's luma shrunk to `width` pixels wide (aspect kept)."""
    if frame.format.name in LUMA_FIRST:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        luma = rows[:, : plane.width]
    else:
        luma = frame.to_ndarray(format="gray")
    size = analysis_size(luma.shape[1], luma.shape[0], width)
    if size == (luma.shape[1], luma.shape[0]):
        return np.ascontiguousarray(luma)
    return cv2.resize(luma, size, interpolation=cv2.INTER_AREA)


class FrameDecoder:
    """Decodes every video packet of one stream; returns the frames due at `fps`, shrunk."""

    def __init__(self, video_stream: Any, *, fps: float, width: int) -> None:
        self._video = video_stream
        self._width = width
        self._sampler = RateSampler(fps)
        self.decoded = 0
        self._failures = 0

    def decode(self, packet: Any, arrived: float) -> list[SampledFrame]:
        """Raises StreamError when the stream cannot be decoded at all."""
        if packet.stream is not self._video:
            return []
        try:
            frames = packet.decode()
        except CAUGHT as exc:  # recorder/av_errors.py
            # A damaged packet costs the rest of its GOP; a stream that never decodes is
            # unusable (no SPS/PPS, garbage).
            self._failures += 1
            if self.decoded == 0 and self._failures >= 50:
                raise translate(exc, "cannot decode the stream", StreamUnusable) from exc
            return []
        out = []
        for frame in frames:
            self.decoded += 1
            pts = frame.pts if frame.pts is not None else packet.pts
            base = frame.time_base or packet.time_base
            t = float(pts * base) if pts is not None and base else arrived
            if self._sampler.due(t):
                out.append(SampledFrame(arrived, to_gray(frame, self._width), frame))
        return out


def sampled_frames(
    packets: Iterable[Any],
    video_stream: Any,
    *,
    fps: float,
    width: int,
    now: Callable[[], float],
) -> Iterator[SampledFrame]:
    """The frames of `packets` due at `fps` (for offline use: benchmarks, tools)."""
    decoder = FrameDecoder(video_stream, fps=fps, width=width)
    for packet in packets:
        yield from decoder.decode(packet, now())
