"""Where segment files live: <data>/recordings/<camera>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4 (UTC).

Paths are always built here from validated camera ids and integer times, never taken from a
client, so no request can name a file outside the recordings tree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

CAMERA_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TEMP_SUFFIX = ".partial"
SEGMENT_SUFFIX = ".mp4"


class SegmentLayout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "recordings"

    def relative_path(self, camera_id: str, start_ms: int) -> str:
        if not CAMERA_ID_RE.match(camera_id):
            raise ValueError(f"invalid camera id {camera_id!r}")
        when = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        return f"recordings/{camera_id}/{when:%Y-%m-%d}/{when:%H}/{start_ms}{SEGMENT_SUFFIX}"

    def absolute(self, relative: str) -> Path:
        return self.data_dir / relative

    def temp_path(self, final: Path) -> Path:
        return final.with_name(final.name + TEMP_SUFFIX)

    def camera_dir(self, camera_id: str) -> Path:
        return self.root / camera_id
