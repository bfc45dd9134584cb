"""Inspect a finished fragmented MP4 segment without reading its media payload.

A segment is `ftyp`, `moov` (the init section), then one `moof`+`mdat` fragment per GOP, maybe an
`mfra` trailer. We read top-level box headers, the small `moov` and each small `moof`; `mdat`
payloads are skipped with a seek, so a 10 s segment costs a few dozen tiny reads whatever its
bitrate. The capture side calls this on every finished segment; reconciliation calls it on files
the index does not know, and only indexes those it reports `complete`, and on the `.partial`
file a crash left, whose complete fragments (up to `valid_bytes`) it keeps.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from recorder.errors import SegmentError
from recorder.storage.model import Keyframe

# Boxes we parse in memory are small; anything bigger is not a sane moov/moof and we refuse to
# allocate for it (a corrupt size field must not make us read a gigabyte).
_MAX_PARSED_BOX = 16 * 1024 * 1024
_NON_SYNC_SAMPLE = 0x00010000  # sample_is_non_sync_sample bit of ISO/IEC 14496-12 sample flags


@dataclass(frozen=True)
class Fmp4Info:
    """What a segment file holds. When `complete` is False, `problem` says why, and the other
    fields describe the valid prefix (useful for logs, never for indexing)."""

    complete: bool
    problem: str
    size: int
    init_bytes: int  # offset of the first moof: ftyp+moov, the HLS initialization section
    duration_ms: int
    keyframes: tuple[Keyframe, ...]  # one per fragment that starts with a sync sample
    fragments: int
    video_codec: str  # RFC 6381, e.g. "avc1.64001f"; the sample entry type if unknown
    has_audio: bool
    valid_bytes: int = 0
    """Where the last complete fragment ends (the whole size when complete): a file cut short
    (no space left, a crash) is a valid segment once truncated here, if `fragments` > 0."""


@dataclass(frozen=True)
class _Track:
    track_id: int
    handler: str
    timescale: int
    codec: str


@dataclass(frozen=True)
class _Defaults:
    duration: int = 0
    size: int = 0
    flags: int = 0


@dataclass(frozen=True)
class _Fragment:
    offset: int
    decode_time: int  # tfdt of the video track, in its timescale
    duration: int  # sum of the video samples' durations
    starts_with_sync: bool
    data_end: int  # the last byte any trun of this moof points at (exclusive)


class _Incomplete(Exception):
    pass


def inspect_fmp4(path: Path) -> Fmp4Info:
    """Describe the fMP4 file at `path`. Malformed content gives `complete=False`; only an
    unreadable file raises `SegmentError`."""
    try:
        with path.open("rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            return _inspect(f, size)
    except OSError as exc:
        raise SegmentError(f"cannot read segment {path}: {exc}") from exc


def _inspect(f: BinaryIO, size: int) -> Fmp4Info:
    tracks: dict[int, _Track] = {}
    trex: dict[int, _Defaults] = {}
    fragments: list[_Fragment] = []
    init_bytes = 0
    problem = ""
    video: _Track | None = None
    offset = 0
    first = True
    pending_moof: _Fragment | None = None
    valid_end = 0
    try:
        while offset < size:
            box_type, header, box_size = _read_header(f, offset, size)
            if first and box_type != "ftyp":
                raise _Incomplete(f"starts with {box_type!r}, not ftyp")
            first = False
            if box_type == "moov":
                tracks, trex = _parse_moov(_read_body(f, offset, header, box_size))
                video = next((t for t in tracks.values() if t.handler == "vide"), None)
                if video is None:
                    raise _Incomplete("moov has no video track")
            elif box_type == "moof":
                if video is None:
                    raise _Incomplete("moof before moov")
                if pending_moof is not None:
                    raise _Incomplete(f"moof at {pending_moof.offset} has no mdat")
                if not fragments:
                    init_bytes = offset
                body = _read_body(f, offset, header, box_size)
                pending_moof = _parse_moof(body, offset, video, trex)
            elif box_type == "mdat" and pending_moof is not None:
                if pending_moof.data_end > offset + box_size:
                    raise _Incomplete(f"samples of moof at {pending_moof.offset} overrun mdat")
                fragments.append(pending_moof)
                pending_moof = None
                valid_end = offset + box_size
            offset += box_size
        if pending_moof is not None:
            raise _Incomplete(f"moof at {pending_moof.offset} has no mdat")
        if video is None:
            raise _Incomplete("no moov")
        if not fragments:
            raise _Incomplete("no complete fragment")
    except _Incomplete as exc:
        problem = str(exc)
    except (struct.error, IndexError, ValueError) as exc:  # a box shorter than its fields
        problem = f"malformed box near byte {offset}: {exc}"
    info = _summarize(problem, size, init_bytes, fragments, video, tracks)
    return replace(info, valid_bytes=size if info.complete else valid_end)


def _summarize(
    problem: str,
    size: int,
    init_bytes: int,
    fragments: list[_Fragment],
    video: _Track | None,
    tracks: dict[int, _Track],
) -> Fmp4Info:
    timescale = video.timescale if video else 0
    keyframes: list[Keyframe] = []
    duration_ms = 0
    if fragments and timescale > 0:
        base = fragments[0].decode_time
        for frag in fragments:
            if frag.starts_with_sync:
                keyframes.append(Keyframe(_ms(frag.decode_time - base, timescale), frag.offset))
        last = fragments[-1]
        duration_ms = _ms(last.decode_time + last.duration - base, timescale)
    return Fmp4Info(
        complete=not problem,
        problem=problem,
        size=size,
        init_bytes=init_bytes,
        duration_ms=duration_ms,
        keyframes=tuple(keyframes),
        fragments=len(fragments),
        video_codec=video.codec if video else "",
        has_audio=any(t.handler == "soun" for t in tracks.values()),
    )


def _ms(ticks: int, timescale: int) -> int:
    return (ticks * 1000 + timescale // 2) // timescale


def _read_header(f: BinaryIO, offset: int, file_size: int) -> tuple[str, int, int]:
    if file_size - offset < 8:
        raise _Incomplete(f"truncated box header at byte {offset}")
    f.seek(offset)
    raw = f.read(16)
    box_size, kind = struct.unpack_from(">I4s", raw)
    header = 8
    if box_size == 1:
        if len(raw) < 16:
            raise _Incomplete(f"truncated box header at byte {offset}")
        (box_size,) = struct.unpack_from(">Q", raw, 8)
        header = 16
    elif box_size == 0:  # "extends to the end of the file"
        box_size = file_size - offset
    name = kind.decode("latin-1")
    if box_size < header:
        raise _Incomplete(f"box {name!r} at byte {offset} has impossible size {box_size}")
    if offset + box_size > file_size:
        raise _Incomplete(
            f"box {name!r} at byte {offset} needs {box_size} bytes, file ends after "
            f"{file_size - offset} (truncated)"
        )
    return name, header, int(box_size)


def _read_body(f: BinaryIO, offset: int, header: int, box_size: int) -> bytes:
    if box_size > _MAX_PARSED_BOX:
        raise _Incomplete(f"box at byte {offset} is implausibly large ({box_size} bytes)")
    f.seek(offset + header)
    body = f.read(box_size - header)
    if len(body) != box_size - header:
        raise _Incomplete(f"short read of box at byte {offset}")
    return body


def _children(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, body start, body end) of the boxes laid end to end in data[start:end]."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        box_size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if box_size == 1:
            (box_size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < header or pos + box_size > end:
            raise ValueError(f"child box {kind!r} overruns its parent")
        out.append((kind.decode("latin-1"), pos + header, pos + box_size))
        pos += box_size
    return out


def _child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int] | None:
    for name, body_start, body_end in _children(data, start, end):
        if name == kind:
            return body_start, body_end
    return None


def _parse_moov(moov: bytes) -> tuple[dict[int, _Track], dict[int, _Defaults]]:
    tracks: dict[int, _Track] = {}
    trex: dict[int, _Defaults] = {}
    for name, start, end in _children(moov):
        if name == "trak":
            track = _parse_trak(moov, start, end)
            if track is not None:
                tracks[track.track_id] = track
        elif name == "mvex":
            for child, s, _ in _children(moov, start, end):
                if child == "trex":
                    track_id, _index, duration, size, flags = struct.unpack_from(">5I", moov, s + 4)
                    trex[track_id] = _Defaults(duration, size, flags)
    return tracks, trex


def _parse_trak(data: bytes, start: int, end: int) -> _Track | None:
    tkhd = _child(data, start, end, "tkhd")
    mdia = _child(data, start, end, "mdia")
    if tkhd is None or mdia is None:
        return None
    version = data[tkhd[0]]
    (track_id,) = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))
    mdhd = _child(data, *mdia, "mdhd")
    hdlr = _child(data, *mdia, "hdlr")
    if mdhd is None or hdlr is None:
        return None
    version = data[mdhd[0]]
    (timescale,) = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))
    handler = data[hdlr[0] + 8 : hdlr[0] + 12].decode("latin-1")
    codec = ""
    minf = _child(data, *mdia, "minf")
    stbl = _child(data, *minf, "stbl") if minf else None
    stsd = _child(data, *stbl, "stsd") if stbl else None
    if stsd is not None and handler == "vide":
        entries = _children(data, stsd[0] + 8, stsd[1])  # skip version/flags + entry count
        if entries:
            codec = _codec_string(data, *entries[0])
    return _Track(track_id, handler, timescale, codec)


def _codec_string(data: bytes, kind: str, start: int, end: int) -> str:
    # A VisualSampleEntry has 78 bytes of fixed fields before its child boxes (avcC, hvcC...).
    children = {name: (s, e) for name, s, e in _children(data, start + 78, end)}
    if kind in ("avc1", "avc3") and "avcC" in children:
        s, _ = children["avcC"]
        return f"{kind}.{data[s + 1]:02x}{data[s + 2]:02x}{data[s + 3]:02x}"
    if kind in ("hvc1", "hev1") and "hvcC" in children:
        s, _ = children["hvcC"]
        return _hevc_codec_string(kind, data[s : s + 13])
    return kind


def _hevc_codec_string(kind: str, c: bytes) -> str:
    # ISO/IEC 14496-15 annex E: profile space+idc, reversed compatibility flags, tier+level,
    # constraint bytes without trailing zeros.
    space = "ABC"[(c[1] >> 6) - 1] if c[1] >> 6 else ""
    tier = "H" if c[1] & 0x20 else "L"
    compat = int(f"{int.from_bytes(c[2:6], 'big'):032b}"[::-1], 2)
    constraints = list(c[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [kind, f"{space}{c[1] & 0x1F}", f"{compat:x}", f"{tier}{c[12]}"]
    parts += [f"{b:x}" for b in constraints]
    return ".".join(parts)


def _parse_moof(
    moof: bytes, moof_offset: int, video: _Track, trex: dict[int, _Defaults]
) -> _Fragment:
    decode_time: int | None = None
    duration = 0
    sync = True
    data_end = 0
    next_base = moof_offset  # without explicit bases, a traf's data follows the previous one's
    for name, start, end in _children(moof):
        if name != "traf":
            continue
        tfhd = _child(moof, start, end, "tfhd")
        if tfhd is None:
            raise _Incomplete(f"traf without tfhd in moof at {moof_offset}")
        track_id, base, defaults = _parse_tfhd(moof, tfhd[0], moof_offset, next_base, trex)
        is_video = track_id == video.track_id
        for child, s, _ in _children(moof, start, end):
            if child == "tfdt" and is_video:
                version = moof[s]
                fmt = ">Q" if version == 1 else ">I"
                (decode_time,) = struct.unpack_from(fmt, moof, s + 4)
            elif child == "trun":
                run_duration, first_sync, run_end = _parse_trun(moof, s, base, defaults)
                if is_video:
                    if duration == 0:
                        sync = first_sync
                    duration += run_duration
                data_end = max(data_end, run_end)
                next_base = run_end
    if decode_time is None:
        raise _Incomplete(f"moof at {moof_offset} has no tfdt for the video track")
    return _Fragment(moof_offset, decode_time, duration, sync, data_end)


def _parse_tfhd(
    data: bytes, s: int, moof_offset: int, next_base: int, trex: dict[int, _Defaults]
) -> tuple[int, int, _Defaults]:
    (flags,) = struct.unpack_from(">I", data, s)
    flags &= 0xFFFFFF
    (track_id,) = struct.unpack_from(">I", data, s + 4)
    pos = s + 8
    base = moof_offset if flags & 0x020000 else next_base  # default-base-is-moof
    if flags & 0x01:
        (base,) = struct.unpack_from(">Q", data, pos)
        pos += 8
    if flags & 0x02:
        pos += 4  # sample description index
    fallback = trex.get(track_id, _Defaults())
    duration, size, sample_flags = fallback.duration, fallback.size, fallback.flags
    if flags & 0x08:
        (duration,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & 0x10:
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & 0x20:
        (sample_flags,) = struct.unpack_from(">I", data, pos)
    return track_id, base, _Defaults(duration, size, sample_flags)


def _parse_trun(data: bytes, s: int, base: int, defaults: _Defaults) -> tuple[int, bool, int]:
    """Total duration, whether the first sample is a sync sample, end of the referenced data."""
    (flags,) = struct.unpack_from(">I", data, s)
    flags &= 0xFFFFFF
    (count,) = struct.unpack_from(">I", data, s + 4)
    pos = s + 8
    data_offset = 0
    if flags & 0x01:
        (data_offset,) = struct.unpack_from(">i", data, pos)
        pos += 4
    first_flags: int | None = None
    if flags & 0x04:
        (first_flags,) = struct.unpack_from(">I", data, pos)
        pos += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    per_sample = len(fields) * 4
    if pos + count * per_sample > len(data):
        raise ValueError("trun sample table overruns its box")
    total_duration = 0
    total_size = 0
    sample_flags_of_first = defaults.flags
    # Unpack the whole sample table at once: a GOP has tens of samples, so this is one C call.
    values = struct.unpack_from(f">{count * len(fields)}I", data, pos) if fields else ()
    columns = {bit: values[i :: len(fields)] for i, bit in enumerate(fields)}
    total_duration = sum(columns[0x100]) if 0x100 in columns else defaults.duration * count
    total_size = sum(columns[0x200]) if 0x200 in columns else defaults.size * count
    if 0x400 in columns and count:
        sample_flags_of_first = columns[0x400][0]
    if first_flags is not None:
        sample_flags_of_first = first_flags
    sync = not (sample_flags_of_first & _NON_SYNC_SAMPLE)
    return total_duration, sync, base + data_offset + total_size
