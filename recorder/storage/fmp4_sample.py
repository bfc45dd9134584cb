"""Read one keyframe's coded picture out of a recorded fMP4 segment, without a demuxer.

A timeline preview decodes a single keyframe. Opening the segment's bytes with FFmpeg's MP4
demuxer (`av.open`) costs more than the decode itself: it probes the stream and decodes frames
to learn what the init section already says (measured here: 20-50 ms for the open, 8 ms for the
decode of a 720p keyframe, on the loaded 2-core VM; bench/web.py's `scrub_phases`). The index
already holds the keyframe's fragment offset, so we read the init section's codec configuration
(`avcC`/`hvcC`), the fragment's `moof`, and the first video sample's bytes, and hand them to a
decoder directly (recorder/media/preview.py). Only H.264 and H.265 are read this way; other
sample entries return None and the caller opens the file with the demuxer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from recorder.errors import SegmentError
from recorder.storage.fmp4 import _child, _children, _Defaults, _parse_moov, _parse_tfhd

# Sample entry type -> FFmpeg decoder name; its configuration box is the decoder's extradata.
DECODERS = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc"}
CONFIG_BOXES = {"avc1": "avcC", "avc3": "avcC", "hvc1": "hvcC", "hev1": "hvcC"}
_MAX_MOOF = 1024 * 1024  # a GOP's moof is a few KB; a larger size field is corrupt
_MAX_SAMPLE = 32 * 1024 * 1024  # a keyframe of 4K video is a few MB


@dataclass(frozen=True)
class KeyframeSample:
    decoder: str  # FFmpeg's decoder name: h264 or hevc
    extradata: bytes  # the avcC / hvcC configuration record
    data: bytes  # the sample as stored: length-prefixed NAL units


def read_keyframe_sample(path: Path, init_bytes: int, moof_offset: int) -> KeyframeSample | None:
    """The first video sample of the fragment whose `moof` starts at `moof_offset` (a keyframe,
    per the index), or None when the track's codec is not one read this way. Raises
    `SegmentError` when the file cannot be read or is not what the index says."""
    try:
        with path.open("rb") as f:
            init = f.read(init_bytes)
            config = _video_config(init)
            if config is None:
                return None
            decoder, extradata, track_id, trex = config
            moof = _read_moof(f, moof_offset)
            offset, size = _first_sample(moof, moof_offset, track_id, trex)
            if not 0 < size <= _MAX_SAMPLE:
                raise SegmentError(f"{path.name}: implausible keyframe size {size}")
            f.seek(offset)
            data = f.read(size)
    except OSError as exc:
        raise SegmentError(f"cannot read {path.name}: {exc}") from exc
    except (struct.error, IndexError, ValueError) as exc:
        raise SegmentError(f"{path.name}: malformed fragment at {moof_offset}: {exc}") from exc
    if len(data) != size:
        raise SegmentError(f"{path.name}: the keyframe at {moof_offset} is cut short")
    return KeyframeSample(decoder, extradata, data)


def _video_config(init: bytes) -> tuple[str, bytes, int, dict[int, _Defaults]] | None:
    """(decoder, extradata, track id, trex defaults) of the init section's video track."""
    moov = _child(init, 0, len(init), "moov")
    if moov is None:
        raise ValueError("the init section has no moov")
    body = init[moov[0] : moov[1]]
    tracks, trex = _parse_moov(body)
    video = next((t for t in tracks.values() if t.handler == "vide"), None)
    if video is None:
        raise ValueError("the init section has no video track")
    for name, start, end in _children(body):
        if name != "trak" or not _is_track(body, start, end, video.track_id):
            continue
        stsd = _box_path(body, start, end, ("mdia", "minf", "stbl", "stsd"))
        if stsd is None:
            raise ValueError("the video track has no sample description")
        entries = _children(body, stsd[0] + 8, stsd[1])  # past version/flags and entry count
        if not entries or entries[0][0] not in DECODERS:
            return None
        kind, entry_start, entry_end = entries[0]
        # A VisualSampleEntry has 78 bytes of fixed fields before its child boxes.
        config = _child(body, entry_start + 78, entry_end, CONFIG_BOXES[kind])
        if config is None:
            return None
        return DECODERS[kind], body[config[0] : config[1]], video.track_id, trex
    raise ValueError("the video track was not found again")


def _is_track(data: bytes, start: int, end: int, track_id: int) -> bool:
    tkhd = _child(data, start, end, "tkhd")
    if tkhd is None:
        return False
    version = data[tkhd[0]]
    (found,) = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))
    return bool(found == track_id)


def _box_path(data: bytes, start: int, end: int, names: tuple[str, ...]) -> tuple[int, int] | None:
    span: tuple[int, int] | None = (start, end)
    for name in names:
        if span is None:
            return None
        span = _child(data, span[0], span[1], name)
    return span


def _read_moof(f: BinaryIO, offset: int) -> bytes:
    f.seek(offset)
    header = f.read(8)
    if len(header) < 8:
        raise ValueError("the file ends before the fragment")
    size, kind = struct.unpack(">I4s", header)
    if kind != b"moof" or not 8 < size <= _MAX_MOOF:
        raise ValueError(f"no moof there ({kind!r}, {size} bytes)")
    moof = header + f.read(size - 8)
    if len(moof) != size:
        raise ValueError("the moof is cut short")
    return moof


def _first_sample(
    moof: bytes, moof_offset: int, track_id: int, trex: dict[int, _Defaults]
) -> tuple[int, int]:
    """File offset and size of the first sample of `track_id` in this fragment."""
    _, body_start, body_end = _children(moof)[0]
    next_base = moof_offset  # without explicit bases, a traf's data follows the previous one's
    for name, start, end in _children(moof, body_start, body_end):
        if name != "traf":
            continue
        tfhd = _child(moof, start, end, "tfhd")
        trun = _child(moof, start, end, "trun")
        if tfhd is None or trun is None:
            continue
        found, base, defaults = _parse_tfhd(moof, tfhd[0], moof_offset, next_base, trex)
        offset, first_size, run_size = _trun_first(moof, trun[0], defaults)
        if found == track_id:
            return base + offset, first_size
        next_base = base + offset + run_size
    raise ValueError(f"no samples of track {track_id}")


def _trun_first(data: bytes, s: int, defaults: _Defaults) -> tuple[int, int, int]:
    """(data offset, size of the first sample, size of all samples) of the trun at `s`."""
    (flags,) = struct.unpack_from(">I", data, s)
    flags &= 0xFFFFFF
    (count,) = struct.unpack_from(">I", data, s + 4)
    pos = s + 8
    data_offset = 0
    if flags & 0x01:
        (data_offset,) = struct.unpack_from(">i", data, pos)
        pos += 4
    if flags & 0x04:
        pos += 4  # first sample flags
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    if not count:
        raise ValueError("an empty trun")
    if 0x200 not in fields:
        return data_offset, defaults.size, defaults.size * count
    values = struct.unpack_from(f">{count * len(fields)}I", data, pos)
    sizes = values[fields.index(0x200) :: len(fields)]
    return data_offset, sizes[0], sum(sizes)
