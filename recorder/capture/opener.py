"""Opening camera streams: the `StreamOpener` boundary and its PyAV adapter.

PyAV reads RTSP (or any URL FFmpeg understands, such as a local clip in tests) without
decoding. Its exceptions never leave this module: they become `StreamError`s (by the table in
recorder/av_errors.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
import av.error

from recorder.av_errors import av_errors
from recorder.errors import StreamError

VIDEO_CODECS = ("h264", "hevc")  # what fMP4 and browsers carry without transcoding
AUDIO_CODECS = ("aac",)


@dataclass(frozen=True)
class StreamInfo:
    video_codec: str
    width: int
    height: int
    fps: float | None
    audio_codec: str | None
    reorder: int = 0  # frames decoding runs ahead of presentation (B-frames), as FFmpeg probed


class OpenedStream(Protocol):
    info: StreamInfo
    video: Any  # av.VideoStream: the template for the segment's video track
    audio: Any | None  # av.AudioStream when the camera sends AAC

    def packets(self) -> Iterator[Any]:
        """Demuxed packets (video and kept audio) in arrival order; raises StreamError."""

    def close(self) -> None: ...


class StreamOpener(Protocol):
    def open(self, url: str) -> OpenedStream:
        """Connect and probe; blocking. Raises StreamError with a reason a user can act on."""


@dataclass(frozen=True)
class PyAVOptions:
    rtsp_transport: str = "tcp"
    connect_timeout_s: float = 10
    read_timeout_s: float = 20
    # Probing: SDP carries SPS/PPS and the AAC config, so half a second is plenty and saves
    # about 1.5 s per connect compared with FFmpeg's defaults.
    analyzeduration_us: int = 500_000
    probesize: int = 500_000


class PyAVStream:
    def __init__(self, container: Any) -> None:
        self._container = container
        videos = [s for s in container.streams.video if s.codec_context.name in VIDEO_CODECS]
        if not videos:
            found = ", ".join(s.codec_context.name for s in container.streams.video) or "none"
            container.close()
            raise StreamError(f"no H.264/H.265 video stream (found: {found})")
        self.video = videos[0]
        audios = [s for s in container.streams.audio if s.codec_context.name in AUDIO_CODECS]
        self.audio = audios[0] if audios else None
        rate = self.video.average_rate or self.video.guessed_rate
        self.info = StreamInfo(
            video_codec=self.video.codec_context.name,
            width=self.video.codec_context.width,
            height=self.video.codec_context.height,
            fps=float(rate) if rate else None,
            audio_codec=self.audio.codec_context.name if self.audio else None,
            reorder=self.video.codec_context.reorder_depth,
        )

    def packets(self) -> Iterator[Any]:
        wanted = [self.video] + ([self.audio] if self.audio else [])
        with av_errors("stream read failed", StreamError):
            for packet in self._container.demux(wanted):
                if packet.dts is None and packet.pts is None:
                    continue  # flush packets at end of stream carry nothing
                yield packet

    def close(self) -> None:
        # Closing a broken connection may fail too; there is nothing left to keep.
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._container.close()


class PyAVStreamOpener:
    def __init__(self, options: PyAVOptions | None = None) -> None:
        self._options = options or PyAVOptions()

    def open(self, url: str) -> PyAVStream:
        opts = self._options
        options = {
            "analyzeduration": str(opts.analyzeduration_us),
            "probesize": str(opts.probesize),
        }
        read_timeout: float | None = opts.read_timeout_s
        if url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = opts.rtsp_transport
            # Socket I/O timeout in microseconds: FFmpeg's own guard while reading.
            options["timeout"] = str(int((opts.read_timeout_s + 5) * 1_000_000))
            # No PyAV read timeout: FFmpeg polls its interrupt callback several times per RTP
            # packet, and PyAV's takes the GIL each time to read the clock. With 16 cameras
            # that GIL traffic cost more CPU than the recording itself (docs/design/capture.md).
            read_timeout = None
        with av_errors("cannot open stream", StreamError):
            container = av.open(
                url, options=options, timeout=(opts.connect_timeout_s, read_timeout)
            )
        return PyAVStream(container)


def seconds(value: int, time_base: Fraction) -> float:
    return float(value * time_base)
