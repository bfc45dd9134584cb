"""Every PyAV user turns a damaged file or a stream that does not decode into the recorder's own
error with a reason (recorder/av_errors.py), never PyAV's exception (which the API would turn
into a 500)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from recorder.capture.keyframe import picture_size
from recorder.capture.tap import Keyframe
from recorder.errors import NotFound, SegmentError, StreamUnusable
from recorder.media.clip_export import export_clip
from recorder.media.snapshot import snapshot_from_keyframe, snapshot_from_segment
from recorder.motion.frames import FrameDecoder
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment
from tests.conftest import ClipFactory

START_MS = 1_700_000_000_000
GARBAGE = b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 16  # an IDR NAL header, then noise


def damaged_segment(data_dir: Path, content: bytes | None) -> Segment:
    """An indexed segment whose file holds `content` (None: no file at all)."""
    layout = SegmentLayout(data_dir)
    relative = layout.relative_path("cam1", START_MS)
    if content is not None:
        path = layout.absolute(relative)
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    return Segment(
        "cam1", START_MS, START_MS, START_MS + 10_000, len(content or b""), relative, 100, id=1
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (GARBAGE, "no snapshot: the recording"),
        (None, "no snapshot: the recording cannot be read: No such file or directory"),
    ],
)
def test_a_snapshot_of_a_damaged_recording_is_not_found_with_the_reason(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    segment = damaged_segment(tmp_path, content)
    with pytest.raises(NotFound, match=reason):
        snapshot_from_segment(SegmentLayout(tmp_path).absolute(segment.path), segment)


def test_a_live_keyframe_that_does_not_decode_is_not_found_with_the_reason() -> None:
    keyframe = Keyframe(GARBAGE, "h264", None, START_MS)
    with pytest.raises(NotFound, match="the latest keyframe does not decode"):
        snapshot_from_keyframe(keyframe)
    assert picture_size("h264", None, GARBAGE) is None  # capture then says "no picture size"


def test_exporting_a_damaged_recording_fails_with_the_reason_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    segment = damaged_segment(tmp_path, GARBAGE)
    out = tmp_path / "clip.mp4"
    with pytest.raises(SegmentError, match="cannot export the clip: "):
        export_clip([segment], SegmentLayout(tmp_path), START_MS, START_MS + 5_000, out)
    assert not out.exists()


def test_motion_on_a_stream_that_never_decodes_says_it_is_unusable(
    make_clip: ClipFactory,
) -> None:
    with av.open(str(make_clip(seconds=2, audio=False))) as container:
        video = container.streams.video[0]
        decoder = FrameDecoder(video, fps=5, width=160)
        with pytest.raises(StreamUnusable, match="cannot decode the stream: "):
            for _ in range(100):
                packet = av.Packet(GARBAGE)
                packet.stream = video
                assert decoder.decode(packet, 0.0) == []
    assert decoder.decoded == 0
