"""HLS VOD playlists over stored segments (RFC 8216, version 7 for fMP4 byte ranges).

Each segment file is one HLS media segment: its init section (ftyp+moov, `init_bytes` long) is
the `#EXT-X-MAP`, the rest is the media, both addressed by byte range in the same file. Within a
run, decode times continue from file to file (docs/design/segments.md), so only the boundary
between runs needs `#EXT-X-DISCONTINUITY`. `#EXT-X-PROGRAM-DATE-TIME` on every segment lets a
player show wall-clock time and seek by it, across gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from recorder.storage.model import Segment


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def vod_playlist(segments: Sequence[Segment], uri_of: dict[int, str]) -> str:
    """The playlist of `segments` (oldest first); `uri_of` maps a segment id to its URI."""
    target = max((math.ceil(s.duration_ms / 1000) for s in segments), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    previous: Segment | None = None
    for segment in segments:
        uri = uri_of[segment.id]
        if previous is not None and (
            segment.run_start_ms != previous.run_start_ms or segment.start_ms != previous.end_ms
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{segment.init_bytes}@0"')
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(segment.start_ms)}")
        lines.append(f"#EXTINF:{segment.duration_ms / 1000:.3f},")
        lines.append(f"#EXT-X-BYTERANGE:{segment.bytes - segment.init_bytes}@{segment.init_bytes}")
        lines.append(uri)
        previous = segment
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
