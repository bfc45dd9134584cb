"""A keyframe read out of a recorded fMP4 segment without a demuxer (storage/fmp4_sample.py),
and the timeline preview decoded from it (media/preview.py), against real files made by
Debian's ffmpeg and decoded whole by PyAV: H.264 with B-frames and an audio track written
first, H.265, and a codec left to the demuxer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from recorder.errors import NotFound, SegmentError
from recorder.media.preview import decode_preview
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.fmp4_sample import read_keyframe_sample
from recorder.storage.model import Segment

FRAGMENTED = ["-movflags", "frag_keyframe+empty_moov+default_base_moof"]


def make_segment(folder: Path, name: str, *video: str, audio_first: bool = False) -> Path:
    """Four seconds of testsrc2 (every frame differs) at 15 fps, a keyframe every second."""
    out = folder / f"{name}.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-t", "4"]
    if audio_first:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "4"]
        cmd += ["-map", "1:a", "-map", "0:v", "-c:a", "aac"]
    cmd += [*video, "-g", "15", "-pix_fmt", "yuv420p", *FRAGMENTED, str(out)]
    subprocess.run(cmd, check=True)
    return out


def segment_of(path: Path) -> Segment:
    info = inspect_fmp4(path)
    assert info.complete, info.problem
    return Segment(
        "cam1", 0, 0, info.duration_ms, info.size, path.name, info.init_bytes, info.keyframes
    )


def keyframe_pictures(path: Path, width: int) -> list[np.ndarray]:
    """Every keyframe of the file, decoded in order by PyAV's demuxer and decoder, shrunk as
    previews are."""
    pictures = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.key_frame:
                height = round(frame.height * width / frame.width / 2) * 2
                pictures.append(
                    frame.reformat(width=width, height=height).to_ndarray(format="bgr24")
                )
    return pictures


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fmp4-sample")


@pytest.mark.parametrize(
    ("name", "video", "audio_first", "decoder"),
    [
        ("h264-bframes", ["-c:v", "libx264", "-profile:v", "high", "-bf", "3"], True, "h264"),
        (
            "h265",
            ["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"],
            False,
            "hevc",
        ),
    ],
)
def test_each_preview_is_its_own_keyframe(
    folder: Path, name: str, video: list[str], audio_first: bool, decoder: str
) -> None:
    path = make_segment(folder, name, *video, audio_first=audio_first)
    segment = segment_of(path)
    assert len(segment.keyframes) == 4
    expected = keyframe_pictures(path, 96)
    assert len(expected) == 4
    for index, keyframe in enumerate(segment.keyframes):
        sample = read_keyframe_sample(path, segment.init_bytes, keyframe.byte_offset)
        assert sample is not None and sample.decoder == decoder
        jpeg = decode_preview(path, segment, index, 96)
        shown = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert shown.shape == expected[index].shape
        # testsrc2 changes every frame: the picture is this keyframe's, clearly no other's (not
        # equal: JPEG, and previews skip the deblocking filter).
        distances = [difference(shown, picture) for picture in expected]
        assert distances.index(min(distances)) == index
        assert distances[index] < 0.6 * sorted(distances)[1], distances


def test_a_codec_not_read_directly_goes_through_the_demuxer(folder: Path) -> None:
    path = make_segment(folder, "mpeg4", "-c:v", "mpeg4", "-q:v", "4")
    segment = segment_of(path)
    assert read_keyframe_sample(path, segment.init_bytes, segment.keyframes[1].byte_offset) is None
    shown = cv2.imdecode(np.frombuffer(decode_preview(path, segment, 1, 96), np.uint8), 1)
    expected = keyframe_pictures(path, 96)
    distances = [difference(shown, picture) for picture in expected]
    assert distances.index(min(distances)) == 1


def test_an_offset_that_is_not_a_fragment_is_refused_with_a_reason(folder: Path) -> None:
    path = make_segment(folder, "plain", "-c:v", "libx264")
    segment = segment_of(path)
    with pytest.raises(SegmentError, match="no moof there"):
        read_keyframe_sample(path, segment.init_bytes, segment.keyframes[1].byte_offset + 8)
    moved = Segment(
        segment.camera_id,
        0,
        0,
        segment.end_ms,
        segment.bytes,
        segment.path,
        segment.init_bytes,
        tuple(k.__class__(k.offset_ms, k.byte_offset + 3) for k in segment.keyframes),
    )
    with pytest.raises(NotFound, match="no preview: the recording cannot be read"):
        decode_preview(path, moved, 1, 96)


def test_a_file_cut_inside_the_keyframe_is_refused(folder: Path, tmp_path: Path) -> None:
    path = make_segment(folder, "whole", "-c:v", "libx264")
    segment = segment_of(path)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: segment.keyframes[2].byte_offset + 2000])
    with pytest.raises(SegmentError, match="cut short"):
        read_keyframe_sample(cut, segment.init_bytes, segment.keyframes[2].byte_offset)
