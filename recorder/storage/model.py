"""Plain types shared by the capture side (which writes segments) and the index (which lists them).

Times are integer milliseconds since the Unix epoch, UTC: exact, sortable and cheap to index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The longest segment the index accepts. Time-range queries use it to bound their index scan
# (a segment overlapping [t0, t1) must start after t0 - MAX), so it is a contract, not a hint:
# capture cuts at ~10 s (at most `segment_seconds` plus one GOP), far below this.
MAX_SEGMENT_DURATION_MS = 3_600_000


@dataclass(frozen=True)
class Keyframe:
    """A random-access point inside a segment: its time from the segment start and the byte
    offset of the fMP4 fragment (`moof`) it begins, so a reader can seek without parsing."""

    offset_ms: int
    byte_offset: int


@dataclass(frozen=True)
class NewSegment:
    """A finished, fsynced, renamed segment file, ready to be indexed."""

    camera_id: str
    run_start_ms: int  # start of the gap-free run this segment belongs to
    start_ms: int
    end_ms: int
    bytes: int
    path: str  # relative to the data directory, always produced by `SegmentLayout`
    init_bytes: int  # size of the ftyp+moov header (the HLS initialization section)
    keyframes: tuple[Keyframe, ...] = ()
    video_codec: str = ""  # RFC 6381 string, e.g. "avc1.64001f"
    has_audio: bool = False

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Segment(NewSegment):
    """An indexed segment."""

    id: int = 0


# Protections whose reason starts with this are events' (recorder/motion/writer.py writes
# "event:<id>"). They yield to space: when nothing else is left to delete, new video wins over
# old event footage (docs/design/retention.md, "What gives way"). Every other protection (a clip
# being exported, one an operator added) is hard: retention never deletes what it covers.
YIELDING_PROTECTION_PREFIX = "event:"


@dataclass(frozen=True)
class Protection:
    """A time range of one camera that retention must not delete (events, clips).

    `expires_ms` None means permanent (clips); otherwise the range is protected until then."""

    camera_id: str
    start_ms: int
    end_ms: int
    reason: str
    expires_ms: int | None = None
    id: int = 0

    @property
    def yields_to_space(self) -> bool:
        """An event's protection: it gives way when space cannot be made otherwise."""
        return self.reason.startswith(YIELDING_PROTECTION_PREFIX)


@dataclass(frozen=True)
class CameraUsage:
    camera_id: str
    bytes: int
    segments: int
    oldest_ms: int | None
    newest_ms: int | None


@dataclass(frozen=True)
class StorageUsage:
    """What the index knows about bytes on disk: the basis of retention (no disk walking)."""

    total_bytes: int
    per_camera: tuple[CameraUsage, ...] = field(default=())
    # Bytes of deleted segments whose files are not unlinked yet (the garbage table): still on
    # disk, so a quota must count them until they are really gone.
    garbage_bytes: int = 0


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    created_ms: int


@dataclass(frozen=True)
class Run:
    """The part of a gap-free run (segments sharing `run_start_ms`) inside a queried range."""

    camera_id: str
    run_start_ms: int
    start_ms: int
    end_ms: int
    segments: int
    bytes: int
