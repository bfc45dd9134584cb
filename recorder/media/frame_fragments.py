"""One fMP4 fragment per video frame, for live view over a WebSocket into Media Source Extensions.

Live HLS (media/live.py) publishes a GOP at a time, so its latency is at least the camera's GOP.
Here every frame becomes its own `moof`+`mdat` the moment it is demuxed, so what the browser
shows lags the camera by transport and decode time only, whatever the GOP.

The initialization section (`ftyp`+`moov`, with the `avcC`/`hvcC` the browser needs) comes from
PyAV's MP4 muxer, fed the first keyframe once. The fragments are written here: FFmpeg's muxer
emits a frame's fragment only when the next frame arrives (it needs the frame's duration), which
would add a frame of latency; a fragment we write ourselves takes its duration from the frame
rate, and its exact decode time (`tfdt`) places it on the timeline anyway.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from recorder.av_errors import av_errors
from recorder.errors import StreamError

_INIT_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
_KEY_FLAGS = 0x02000000  # sample_depends_on = 2: an independent (sync) sample
_DELTA_FLAGS = 0x01010000  # depends on others, and is a non-sync sample
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800  # offset, dur, size, flags, cto


@dataclass(frozen=True)
class InitSection:
    data: bytes
    codec: str  # RFC 6381 codecs parameter, e.g. "avc1.4d401f"; the MSE type is video/mp4
    timescale: int
    track_id: int


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def _find(data: bytes, kind: bytes) -> int:
    """Offset of the payload of the first `kind` box (a plain search: the boxes we look for are
    unique in an init section of one track)."""
    at = data.find(kind)
    if at < 4:
        raise StreamError(f"no {kind.decode()} box in the initialization section")
    return at + 4


def _codec_string(init: bytes, codec: str) -> str:
    if codec == "h264":
        at = _find(init, b"avcC")
        profile, compat, level = init[at + 1], init[at + 2], init[at + 3]
        return f"avc1.{profile:02x}{compat:02x}{level:02x}"
    # H.265 plays in few browsers (not in Debian's Chromium): the client falls back to HLS.
    at = _find(init, b"hvcC")
    profile_idc = init[at + 1] & 0x1F
    level = init[at + 12]
    return f"hvc1.{profile_idc}.4.L{level}.B0"


def _parse_init(init: bytes, codec: str) -> InitSection:
    tkhd = _find(init, b"tkhd")
    version = init[tkhd]
    track_id = struct.unpack_from(">I", init, tkhd + (20 if version == 1 else 12))[0]
    mdhd = _find(init, b"mdhd")
    version = init[mdhd]
    timescale = struct.unpack_from(">I", init, mdhd + (20 if version == 1 else 12))[0]
    return InitSection(init, _codec_string(init, codec), timescale, track_id)


def make_init(video: Any, first_keyframe: bytes, pts: int, time_base: Fraction) -> InitSection:
    """The initialization section for fragments of `video` (a demuxed av.VideoStream)."""
    buffer = io.BytesIO()
    with (
        av_errors("cannot build a live initialization section", StreamError),
        av.open(buffer, "w", format="mp4", options=_INIT_OPTIONS) as out,
    ):
        stream = out.add_stream_from_template(video)
        packet = av.Packet(first_keyframe)
        packet.pts = packet.dts = 0
        packet.time_base = time_base
        packet.is_keyframe = True
        packet.stream = stream
        out.mux(packet)
    data = buffer.getvalue()
    moof = data.find(b"moof")
    init = data[: moof - 4] if moof >= 4 else data
    return _parse_init(init, video.codec_context.name)


def to_length_prefixed(data: bytes) -> bytes:
    """Annex B (start codes, as RTSP delivers H.264/H.265) to the 4-byte length prefixes MP4
    samples use; data already length-prefixed is returned unchanged."""
    if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
        return data
    out = bytearray()
    start = -1
    i, n = 0, len(data)
    while i + 2 < n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start >= 0:
                nal = data[start:i].rstrip(b"\x00")  # trailing zeros belong to the next start code
                out += struct.pack(">I", len(nal)) + nal
            i += 3
            start = i
            continue
        i += 1
    if start >= 0 and start < n:
        nal = data[start:]
        out += struct.pack(">I", len(nal)) + nal
    return bytes(out)


class FrameFragmenter:
    """Turns the video packets of one connection into fragments on one continuous timeline."""

    def __init__(self, init: InitSection, time_base: Fraction, frame_s: float) -> None:
        self.init = init
        self._time_base = time_base
        self._scale = time_base * init.timescale  # packet ticks -> track ticks
        self._duration = max(1, round(frame_s * init.timescale))
        self._zero: int | None = None
        self._last_dts = -1
        self._sequence = 0

    def media_seconds(self, dts: int) -> float:
        """Where a packet's decode time lands on the fragments' timeline, in seconds."""
        zero = self._zero if self._zero is not None else dts
        return float((dts - zero) * self._time_base)

    def fragment(self, data: bytes, pts: int, dts: int, keyframe: bool) -> bytes | None:
        """The fragment of one frame, or None for a frame that would go back in time."""
        if self._zero is None:
            self._zero = dts
        decode = round((dts - self._zero) * self._scale)
        if decode <= self._last_dts:
            return None  # a repeated or reordered timestamp: MSE would overwrite a frame
        self._last_dts = decode
        offset = round((pts - dts) * self._scale)
        sample = to_length_prefixed(data)
        self._sequence += 1
        tfhd = _full_box(b"tfhd", 0, 0x020000, struct.pack(">I", self.init.track_id))
        tfdt = _full_box(b"tfdt", 1, 0, struct.pack(">Q", decode))
        flags = _KEY_FLAGS if keyframe else _DELTA_FLAGS
        # The trun's data offset counts from the moof's start to the sample: the moof's size
        # (known once the trun is laid out: its size does not depend on the value) plus 8.
        trun_size = 8 + 4 + 4 + 4 + 16
        moof_size = 8 + (8 + 8) + (8 + len(tfhd) + len(tfdt) + trun_size)
        trun = _full_box(
            b"trun",
            1,
            _TRUN_FLAGS,
            struct.pack(">IiIIIi", 1, moof_size + 8, self._duration, len(sample), flags, offset),
        )
        traf = _box(b"traf", tfhd + tfdt + trun)
        moof = _box(b"moof", _full_box(b"mfhd", 0, 0, struct.pack(">I", self._sequence)) + traf)
        assert len(moof) == moof_size
        return moof + _box(b"mdat", sample)
