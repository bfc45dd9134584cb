"""Live parts and the HLS playlists of remote media (pure: no I/O).

`PartCutter` groups the live path's one-frame fMP4 fragments (media/live_feed.py) into parts
of about `part_s` seconds, cut at any fragment boundary: a part need not start with a keyframe,
so a part lasts ~1 s whatever the camera's GOP (a 4 s GOP camera still gets 1 s parts). Parts
that do start with a keyframe are marked, so a player joining late starts at one.

Playlists are HLS version 7 with fMP4 (`#EXT-X-MAP` init segments); object names are relative
to the media session's prefix. docs/ref/remote-media.md describes both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

PLAYLIST = "index.m3u8"
INDEPENDENT_TAG = "#EXT-X-SKYCAM-INDEPENDENT"  # the next segment starts with a keyframe


def init_name(version: int) -> str:
    return f"init{version}.mp4"


def part_name(sequence: int) -> str:
    return f"p{sequence:08d}.m4s"


def _date(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class LivePart:
    sequence: int
    data: bytes
    duration_s: float
    wall_ms: float  # when its first frame reached the recorder
    independent: bool  # starts with a keyframe
    init_version: int
    frames: int


@dataclass
class PartCutter:
    part_s: float = 1.0
    init_version: int = 0
    _sequence: int = 0
    _buffer: list[bytes] = field(default_factory=list)
    _start_media: float = 0.0
    _start_wall: float = 0.0
    _independent: bool = False
    _last_media: float | None = None
    _frame_s: float = 1 / 15

    def new_init(self) -> int:
        """A new init section (the camera reconnected): the part in progress is dropped (its
        frames belong to the old stream) and the next part starts the new version."""
        self._buffer = []
        self._last_media = None
        self.init_version += 1
        return self.init_version

    def fragment(
        self, data: bytes, keyframe: bool, media_s: float, wall_ms: float
    ) -> LivePart | None:
        """Add one frame's fragment; returns the part it completes, if any."""
        if self._last_media is not None and media_s > self._last_media:
            self._frame_s = min(1.0, media_s - self._last_media)
        self._last_media = media_s
        if not self._buffer:
            self._start_media, self._start_wall, self._independent = media_s, wall_ms, keyframe
        self._buffer.append(data)
        elapsed = media_s - self._start_media + self._frame_s
        if elapsed < self.part_s - 1e-6:
            return None
        self._sequence += 1
        part = LivePart(
            self._sequence,
            b"".join(self._buffer),
            elapsed,
            self._start_wall,
            self._independent,
            self.init_version,
            len(self._buffer),
        )
        self._buffer = []
        return part


def live_playlist(parts: Sequence[LivePart], part_s: float) -> str:
    """The sliding-window live playlist of `parts` (oldest first, all uploaded)."""
    target = max([math.ceil(part_s)] + [math.ceil(p.duration_s) for p in parts])
    first = parts[0].sequence if parts else 1
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    if parts:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{max(0, parts[0].init_version - 1)}")
    version: int | None = None
    for part in parts:
        if part.init_version != version:
            if version is not None:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f'#EXT-X-MAP:URI="{init_name(part.init_version)}"')
            version = part.init_version
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(part.wall_ms)}")
        if part.independent:
            lines.append(INDEPENDENT_TAG)
        lines.append(f"#EXTINF:{part.duration_s:.3f},")
        lines.append(part_name(part.sequence))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PlaybackItem:
    """One recorded segment as remote playback objects: its init and its media."""

    index: int  # position in the range, 0-based
    segment_id: int
    init: str  # object name of its init section (shared by segments with the same one)
    media: str  # object name of its media
    start_ms: int
    duration_s: float
    offset_s: float  # where it starts on the playlist's timeline
    discontinuity: bool


def playback_playlist(items: Sequence[PlaybackItem]) -> str:
    target = max((math.ceil(i.duration_s) for i in items), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    init: str | None = None
    for item in items:
        if item.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if item.init != init or item.discontinuity:
            lines.append(f'#EXT-X-MAP:URI="{item.init}"')
            init = item.init
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(item.start_ms)}")
        lines.append(f"#EXTINF:{item.duration_s:.3f},")
        lines.append(item.media)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
