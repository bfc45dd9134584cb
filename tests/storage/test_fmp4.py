"""Segment inspection on real ffmpeg output, and on damaged copies of it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from recorder.errors import SegmentError
from recorder.storage.fmp4 import inspect_fmp4


def _box_type_at(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset + 4)
        return f.read(4)


def _truncated(clip: Path, tmp_path: Path, size: int) -> Path:
    out = tmp_path / f"cut_{size}.mp4"
    out.write_bytes(clip.read_bytes()[:size])
    return out


def test_complete_segment_is_described(clip: Path) -> None:
    info = inspect_fmp4(clip)
    assert info.complete, info.problem
    assert info.size == clip.stat().st_size
    assert 9_900 <= info.duration_ms <= 10_100
    assert info.fragments == 10
    assert [k.offset_ms for k in info.keyframes] == [i * 1000 for i in range(10)]
    # Each keyframe points at the moof that begins its GOP; the first follows the init section.
    assert info.keyframes[0].byte_offset == info.init_bytes
    assert {_box_type_at(clip, k.byte_offset) for k in info.keyframes} == {b"moof"}
    assert _box_type_at(clip, 0) == b"ftyp"
    assert info.video_codec.startswith("avc1.")
    assert not info.has_audio


def test_audio_track_is_noticed(clip_with_audio: Path) -> None:
    info = inspect_fmp4(clip_with_audio)
    assert info.complete and info.has_audio
    assert 3_900 <= info.duration_ms <= 4_200  # timed by the video track


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda info, size: 6, "truncated box header"),
        (lambda info, size: 300, "truncated"),  # inside moov
        (lambda info, size: info.init_bytes + 50, "truncated"),  # inside the first moof
        (lambda info, size: info.keyframes[-1].byte_offset + 400, "truncated"),  # last mdat
        (lambda info, size: info.keyframes[-1].byte_offset - 100, "truncated"),
    ],
)
def test_truncated_copies_are_incomplete(clip: Path, tmp_path: Path, where, problem: str) -> None:  # type: ignore[no-untyped-def]
    full = inspect_fmp4(clip)
    cut = _truncated(clip, tmp_path, where(full, full.size))
    info = inspect_fmp4(cut)
    assert not info.complete
    assert problem in info.problem
    assert info.fragments < full.fragments


@pytest.mark.parametrize("cut_in", ["moof", "mdat"])
def test_truncated_file_says_where_its_complete_fragments_end(
    clip: Path, tmp_path: Path, cut_in: str
) -> None:
    # What crash recovery keeps of a partial file: cut there, it is a whole shorter segment.
    full = inspect_fmp4(clip)
    fourth = full.keyframes[3].byte_offset
    info = inspect_fmp4(_truncated(clip, tmp_path, fourth + (30 if cut_in == "moof" else 900)))
    assert not info.complete
    assert info.fragments == 3  # the fourth is cut
    kept = inspect_fmp4(_truncated(clip, tmp_path, info.valid_bytes))
    assert kept.complete and kept.fragments == info.fragments
    assert kept.valid_bytes == kept.size == info.valid_bytes
    assert (kept.duration_ms, kept.keyframes) == (info.duration_ms, info.keyframes)
    assert full.valid_bytes <= full.size  # ffmpeg ends a finished file with an mfra index


def test_moof_without_its_mdat_is_incomplete(clip: Path, tmp_path: Path) -> None:
    full = inspect_fmp4(clip)
    second_moof = full.keyframes[1].byte_offset
    with clip.open("rb") as f:
        f.seek(second_moof)
        moof_size = int.from_bytes(f.read(4), "big")
    info = inspect_fmp4(_truncated(clip, tmp_path, second_moof + moof_size))
    assert not info.complete and "has no mdat" in info.problem


def test_cut_exactly_between_fragments_looks_like_a_shorter_segment(
    clip: Path, tmp_path: Path
) -> None:
    # A known limit: a file cut at a fragment boundary is a valid, shorter fMP4. The write
    # order (fsync before rename) is what keeps such files from ever being final.
    full = inspect_fmp4(clip)
    info = inspect_fmp4(_truncated(clip, tmp_path, full.keyframes[5].byte_offset))
    assert info.complete and info.fragments == 5
    assert info.duration_ms == 5_000


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x00\x00\x08free", b"not an mp4 file at all, just text " * 10],
)
def test_non_mp4_content_is_incomplete(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(content)
    assert not inspect_fmp4(path).complete


def test_corrupt_box_size_is_caught(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    moof = inspect_fmp4(clip).keyframes[3].byte_offset
    data[moof : moof + 4] = (2**31).to_bytes(4, "big")  # a moof claiming 2 GB
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    info = inspect_fmp4(path)
    assert not info.complete and info.fragments == 3


def test_media_payload_is_skipped_not_read(clip: Path, tmp_path: Path) -> None:
    # Append a 4 GB (sparse) box: reading it would take seconds; skipping it takes nothing.
    path = tmp_path / "huge.mp4"
    shutil.copyfile(clip, path)
    huge = 4 * 2**30
    with path.open("ab") as f:
        f.write((1).to_bytes(4, "big") + b"free" + huge.to_bytes(8, "big"))
        f.truncate(clip.stat().st_size + huge)
    started = time.perf_counter()
    info = inspect_fmp4(path)
    assert time.perf_counter() - started < 0.5
    assert info.complete and info.size == clip.stat().st_size + huge


def test_unreadable_file_raises_segment_error(tmp_path: Path) -> None:
    with pytest.raises(SegmentError):
        inspect_fmp4(tmp_path / "missing.mp4")
