"""JPEG snapshots from one keyframe: the live session's newest, or a recorded segment's last.

One keyframe decodes on its own (an IDR picture with SPS/PPS), so a snapshot costs one decode
of one frame (~10 ms at 720p) and never waits for the segment in flight to be written.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2

from recorder.av_errors import av_errors
from recorder.capture.keyframe import decode_keyframe
from recorder.capture.tap import Keyframe
from recorder.errors import NotFound
from recorder.storage.model import Segment

JPEG_QUALITY = 85


def _encode(frame: av.VideoFrame, max_width: int | None) -> bytes:
    if max_width and frame.width > max_width:
        height = round(frame.height * max_width / frame.width / 2) * 2
        frame = frame.reformat(width=max_width, height=height)
    image = frame.to_ndarray(format="bgr24")
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise NotFound("could not encode the snapshot")
    return bytes(jpeg.tobytes())


def snapshot_from_keyframe(keyframe: Keyframe, max_width: int | None = None) -> bytes:
    with av_errors("the latest keyframe does not decode", NotFound):
        frame = decode_keyframe(keyframe.codec, keyframe.extradata, keyframe.data)
        if frame is None:
            raise NotFound("the latest keyframe does not decode")
        return _encode(frame, max_width)


def snapshot_from_segment(path: Path, segment: Segment, max_width: int | None = None) -> bytes:
    """Decode the last keyframe of a recorded segment, reading only the init section and the
    last fragment (their byte offsets are in the index)."""
    last = segment.keyframes[-1].byte_offset if segment.keyframes else segment.init_bytes
    # A 404 with the reason, whatever is wrong with the file (recorder/av_errors.py).
    with av_errors("no snapshot: the recording cannot be read", NotFound):
        with path.open("rb") as file:
            head = file.read(segment.init_bytes)
            file.seek(last)
            tail = file.read()
        with av.open(io.BytesIO(head + tail), "r", format="mp4") as container:
            for frame in container.decode(video=0):
                return _encode(frame, max_width)
    raise NotFound("no snapshot: the recording holds no picture")
