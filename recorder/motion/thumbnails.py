"""Event thumbnails: a JPEG of the best frame, at most `max_bytes`, under data_dir/thumbnails.

Paths are built here from a validated camera id, the event's start day and its integer id,
never taken from a client: <data>/thumbnails/<camera>/<YYYY-MM-DD>/<event_id>.jpg (UTC).
Files are written to a temporary name and renamed, so a reader never sees half a JPEG.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from cv2.typing import MatLike

from recorder.motion.analysis import Box
from recorder.site import THUMBNAILS_DIR, Site
from recorder.storage.layout import CAMERA_ID_RE

_RELATIVE = re.compile(
    "^" + re.escape(THUMBNAILS_DIR) + r"/[a-z0-9][a-z0-9_-]{0,62}/\d{4}-\d{2}-\d{2}/\d{1,18}\.jpg$"
)
BOX_COLOUR = (0, 200, 255)  # BGR: amber, visible on most scenes


class ThumbnailStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = Site(data_dir).thumbnails

    def relative_path(self, camera_id: str, event_id: int, start_ms: int) -> str:
        if not CAMERA_ID_RE.match(camera_id):
            raise ValueError(f"invalid camera id {camera_id!r}")
        day = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        return f"{THUMBNAILS_DIR}/{camera_id}/{day:%Y-%m-%d}/{int(event_id)}.jpg"

    def absolute(self, relative: str) -> Path:
        """The file of a stored relative path; refuses anything this class would not build."""
        if not _RELATIVE.match(relative):
            raise ValueError(f"not a thumbnail path: {relative!r}")
        return self.data_dir / relative

    def write(self, relative: str, jpeg: bytes) -> None:
        """Blocking; run in a thread."""
        target = self.absolute(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(target.name + ".partial")
        with temp.open("wb") as handle:
            handle.write(jpeg)
        temp.replace(target)

    def delete(self, relative: str) -> None:
        """Blocking; a missing file is fine. Empty day and camera folders go too."""
        target = self.absolute(relative)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        for folder in (target.parent, target.parent.parent):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty


def frame_to_bgr(frame: Any) -> MatLike:
    """A decoded PyAV frame, or already an image array, as a BGR image."""
    if isinstance(frame, np.ndarray):
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return frame
    image: MatLike = frame.to_ndarray(format="bgr24")
    return image


def encode_thumbnail(
    image: MatLike,
    box: Box | None = None,
    *,
    max_bytes: int = 50_000,
    max_width: int = 640,
) -> bytes:
    """JPEG of `image` with the motion `box` drawn, at most `max_bytes`: quality is lowered
    first (80 down to 40), then the picture is shrunk, until it fits."""
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(
            image, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA
        )
    else:
        image = image.copy()
    if box is not None:
        h, w = image.shape[:2]
        thickness = max(1, w // 320)
        top_left = (round(box.x * w), round(box.y * h))
        bottom_right = (round((box.x + box.w) * w) - 1, round((box.y + box.h) * h) - 1)
        cv2.rectangle(image, top_left, bottom_right, BOX_COLOUR, thickness)
    while True:
        for quality in (80, 65, 50, 40):
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError("JPEG encoding failed")
            if len(encoded) <= max_bytes:
                return encoded.tobytes()
        h, w = image.shape[:2]
        if w <= 80:
            return encoded.tobytes()  # a tiny picture that still does not fit: give it anyway
        image = cv2.resize(image, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA)
