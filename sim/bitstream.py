"""Split encoded elementary streams into the units the camera server sends one at a time.

This module is shared by the venv side (which validates a fresh encoding) and by `gst_server.py`,
which runs under the system interpreter and imports it by bare name: it must stay stdlib-only and
must not import anything from the `sim` package. It raises `ValueError` on malformed input; callers
in the package turn that into a `sim.errors` exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
HEVC_IDR = (19, 20)  # IDR_W_RADL, IDR_N_LP
HEVC_VPS, HEVC_SPS, HEVC_PPS, HEVC_AUD = 32, 33, 34, 35

# An access unit delimiter NAL header is 0x09 (nal_ref_idc 0, type 9) in H.264 and 0x46 0x01
# (type 35, layer 0, temporal id 1) in H.265, as x264 and x265 write them. Emulation prevention
# guarantees 00 00 01 never occurs inside a NAL, so these patterns only match real AUDs.
_AUD = {"h264": re.compile(b"\x00\x00\x01\x09"), "h265": re.compile(b"\x00\x00\x01\x46\x01")}
_START_CODE = re.compile(b"\x00\x00\x01")

ADTS_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
)
ADTS_SAMPLES_PER_FRAME = 1024


@dataclass(frozen=True)
class AccessUnit:
    """One coded picture in Annex-B form, starting with its access unit delimiter."""

    data: bytes
    nal_types: tuple[int, ...]
    codec: str = "h264"

    @property
    def is_idr(self) -> bool:
        if self.codec == "h265":
            return any(t in HEVC_IDR for t in self.nal_types)
        return NAL_IDR in self.nal_types

    @property
    def has_parameter_sets(self) -> bool:
        if self.codec == "h265":
            return {HEVC_VPS, HEVC_SPS, HEVC_PPS} <= set(self.nal_types)
        return NAL_SPS in self.nal_types and NAL_PPS in self.nal_types


def nal_types(data: bytes, codec: str = "h264") -> tuple[int, ...]:
    """Types of the NAL units of an Annex-B buffer, in order."""
    ends = [m.end() for m in _START_CODE.finditer(data) if m.end() < len(data)]
    if codec == "h265":
        return tuple((data[end] >> 1) & 0x3F for end in ends)
    return tuple(data[end] & 0x1F for end in ends)


def split_access_units(data: bytes, codec: str = "h264") -> list[AccessUnit]:
    """Split an Annex-B H.264 or H.265 stream written with AUDs (x264/x265 `aud=1`) into access
    units, in the file's (decode) order.

    A 4-byte start code before an AUD is kept with its unit, so each unit is a valid Annex-B buffer
    on its own.
    """
    if codec not in _AUD:
        raise ValueError(f"unknown codec {codec!r}")
    starts = []
    for match in _AUD[codec].finditer(data):
        start = match.start()
        if start > 0 and data[start - 1] == 0:
            start -= 1
        starts.append(start)
    if not starts:
        raise ValueError("no access unit delimiters found: encode with aud=1")
    if data[: starts[0]].strip(b"\x00"):
        raise ValueError("stream does not start with an access unit delimiter")
    ends = [*starts[1:], len(data)]
    return [
        AccessUnit(data[s:e], nal_types(data[s:e], codec), codec)
        for s, e in zip(starts, ends, strict=True)
    ]


def check_gop_structure(units: list[AccessUnit], gop: int) -> None:
    """Require an IDR with its parameter sets exactly every `gop` units and nowhere else.

    The server relies on this: a loop of whole GOPs starts on an IDR, and a client that joins at any
    IDR can decode from there.
    """
    if not units or len(units) % gop:
        raise ValueError(f"{len(units)} access units is not a whole number of {gop}-frame GOPs")
    for index, unit in enumerate(units):
        expect_idr = index % gop == 0
        if unit.is_idr != expect_idr:
            kind = "an IDR" if expect_idr else "a non-IDR frame"
            raise ValueError(f"access unit {index} should be {kind} (GOP of {gop})")
        if expect_idr and not unit.has_parameter_sets:
            raise ValueError(
                f"IDR access unit {index} lacks its parameter sets (SPS/PPS, repeat-headers=1)"
            )


def check_presentation_order(order: list[int], gop: int) -> None:
    """`order[i]` is the presentation index of the unit decoded i-th: each GOP must be closed
    (a permutation of its own frames), so a loop of whole GOPs plays seamlessly."""
    for start in range(0, len(order), gop):
        group = order[start : start + gop]
        if sorted(group) != list(range(start, start + gop)):
            raise ValueError(f"the GOP at frame {start} is not closed: {group}")


@dataclass(frozen=True)
class AdtsStream:
    frames: tuple[bytes, ...]
    sample_rate: int
    channels: int

    @property
    def frame_duration_s(self) -> float:
        return ADTS_SAMPLES_PER_FRAME / self.sample_rate


def split_adts(data: bytes) -> AdtsStream:
    """Split an ADTS AAC stream into frames of 1024 samples each (AAC-LC)."""
    frames: list[bytes] = []
    pos = 0
    rate_index = channels = -1
    while pos < len(data):
        header = data[pos : pos + 7]
        if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF0 != 0xF0:
            raise ValueError(f"no ADTS sync word at byte {pos}")
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        if length < 7 or pos + length > len(data):
            raise ValueError(f"truncated ADTS frame at byte {pos}")
        if header[6] & 0x03:
            raise ValueError("ADTS frames with several raw data blocks are not supported")
        rate_index = (header[2] >> 2) & 0x0F
        channels = ((header[2] & 0x01) << 2) | (header[3] >> 6)
        frames.append(data[pos : pos + length])
        pos += length
    if not frames:
        raise ValueError("empty ADTS stream")
    if rate_index >= len(ADTS_SAMPLE_RATES):
        raise ValueError(f"unsupported ADTS sample rate index {rate_index}")
    return AdtsStream(tuple(frames), ADTS_SAMPLE_RATES[rate_index], channels)
