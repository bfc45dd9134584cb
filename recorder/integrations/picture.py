"""The picture a webhook may carry: checked to be a JPEG of sane size, then re-encoded as an
event thumbnail (which also drops whatever metadata the device put in it).

Dimensions are read from the JPEG's frame header before anything is decoded: a small file can
declare a huge picture, and decoding it would take the memory that recording needs.
"""

from __future__ import annotations

import cv2
import numpy as np

from recorder.errors import InvalidRequest
from recorder.motion.thumbnails import encode_thumbnail

MAX_PIXELS = 16_000_000  # 16 MP: more than any doorbell or plate camera sends
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first frame header; InvalidRequest if this is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        raise InvalidRequest("jpeg: not a JPEG picture")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF and at + 9 <= len(data):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        if length < 2:
            break
        at += 2 + length
    raise InvalidRequest("jpeg: no frame header found")


def thumbnail_from(data: bytes, max_bytes: int) -> bytes:
    """A thumbnail of the picture, at most `max_bytes`. Blocking: run in a thread."""
    width, height = jpeg_size(data)
    if width * height > MAX_PIXELS or not width or not height:
        raise InvalidRequest(f"jpeg: {width}x{height} is not a picture size we accept")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidRequest("jpeg: the picture does not decode")
    return encode_thumbnail(image, None, max_bytes=max_bytes)
