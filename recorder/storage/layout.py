"""Where segment files live: <data>/recordings/<camera>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4 (UTC).

Paths are always built here from validated camera ids and integer times, never taken from a
client, so no request can name a file outside the recordings tree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recorder.site import CAMERA_ID_RE as CAMERA_ID_RE  # checked before any path is built
from recorder.site import RECORDINGS_DIR

TEMP_SUFFIX = ".partial"
SEGMENT_SUFFIX = ".mp4"


class SegmentLayout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / RECORDINGS_DIR

    def relative_path(self, camera_id: str, start_ms: int) -> str:
        if not CAMERA_ID_RE.match(camera_id):
            raise ValueError(f"invalid camera id {camera_id!r}")
        when = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        return f"{RECORDINGS_DIR}/{camera_id}/{when:%Y-%m-%d}/{when:%H}/{start_ms}{SEGMENT_SUFFIX}"

    def absolute(self, relative: str) -> Path:
        return self.data_dir / relative

    def temp_path(self, final: Path) -> Path:
        return final.with_name(final.name + TEMP_SUFFIX)

    def camera_dir(self, camera_id: str) -> Path:
        return self.root / camera_id
