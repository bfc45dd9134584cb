"""Decoding one keyframe on its own: an IDR picture with its SPS/PPS needs no other frame.

Capture reads the picture's size when the stream's probe found none; snapshots
(recorder/media/snapshot.py) encode the picture.
"""

from __future__ import annotations

from typing import Any

import av

from recorder.av_errors import CAUGHT


def decode_keyframe(codec: str, extradata: bytes | None, data: Any) -> Any | None:
    """The picture (an `av.VideoFrame`) of one keyframe, or None if it yields none; raises
    one of `recorder.av_errors.CAUGHT` when it does not decode."""
    ctx: Any = av.CodecContext.create(codec, "r")
    if extradata:
        ctx.extradata = extradata
    frames = ctx.decode(av.Packet(data))
    frames += ctx.decode(None)  # flush: a lone packet may sit in the decoder
    return frames[0] if frames else None


def picture_size(codec: str, extradata: bytes | None, keyframe: bytes) -> tuple[int, int] | None:
    """Width and height of the picture a keyframe decodes to (None if it does not decode)."""
    try:
        frame = decode_keyframe(codec, extradata, keyframe)
    except CAUGHT:  # recorder/av_errors.py: whatever PyAV raises on data that does not decode
        return None
    return (frame.width, frame.height) if frame is not None else None
