"""Compact storage of a segment's keyframe table in one SQLite BLOB.

Format 1: a version byte, then for each keyframe two unsigned LEB128 varints: the delta of
`offset_ms` and the delta of `byte_offset` from the previous keyframe (the first from zero).
Deltas of a 10 s segment with 1 s GOPs fit in 2 + 3 bytes, so ten keyframes take ~50 bytes
instead of ~200 as JSON: across 2.6 M rows that is about 400 MB less index. Keyframes are in file
order, so deltas are never negative; `pack` refuses tables that are not.
"""

from __future__ import annotations

from collections.abc import Iterable

from recorder.storage.model import Keyframe

FORMAT_VERSION = 1


def pack_keyframes(keyframes: Iterable[Keyframe]) -> bytes:
    out = bytearray([FORMAT_VERSION])
    prev_ms = prev_byte = 0
    for kf in keyframes:
        d_ms, d_byte = kf.offset_ms - prev_ms, kf.byte_offset - prev_byte
        if d_ms < 0 or d_byte < 0:
            raise ValueError(f"keyframes must be in increasing order, got {kf} after {prev_ms} ms")
        _put_varint(out, d_ms)
        _put_varint(out, d_byte)
        prev_ms, prev_byte = kf.offset_ms, kf.byte_offset
    return bytes(out)


def unpack_keyframes(blob: bytes) -> tuple[Keyframe, ...]:
    if not blob or blob[0] != FORMAT_VERSION:
        raise ValueError(f"unknown keyframe table format {blob[:1].hex() or 'empty'}")
    values: list[int] = []
    value = shift = 0
    for byte in blob[1:]:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            values.append(value)
            value = shift = 0
    if shift or len(values) % 2:
        raise ValueError("truncated keyframe table")
    out = []
    ms = pos = 0
    for i in range(0, len(values), 2):
        ms += values[i]
        pos += values[i + 1]
        out.append(Keyframe(ms, pos))
    return tuple(out)


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
