"""An in-memory `SegmentIndex` for tests of code that needs an index's behaviour, not SQLite.

It keeps the same rules as `SqliteSegmentIndex` (the contract tests run against both), trading
speed for obviousness: every query is a scan. Not for production data sizes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from recorder.clock import Clock, SystemClock
from recorder.errors import IndexConflict, IndexFailure
from recorder.storage.index import (
    GarbageEntry,
    SegmentRef,
    check_camera_id,
    check_new_segment,
    check_protection,
    merge_runs,
)
from recorder.storage.model import (
    Camera,
    CameraUsage,
    NewSegment,
    Protection,
    Run,
    Segment,
    StorageUsage,
)


class MemorySegmentIndex:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._open = False
        self._cameras: dict[str, Camera] = {}
        self._segments: dict[int, Segment] = {}
        self._paths: set[str] = set()
        self._protections: dict[int, Protection] = {}
        self._garbage: dict[str, GarbageEntry] = {}
        self._next_segment_id = 1
        self._next_protection_id = 1

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def ensure_camera(self, camera_id: str, name: str = "") -> Camera:
        self._check_open()
        check_camera_id(camera_id)
        existing = self._cameras.get(camera_id)
        created = existing.created_ms if existing else int(self._clock.now() * 1000)
        camera = Camera(camera_id, name or camera_id, created)
        self._cameras[camera_id] = camera
        return camera

    async def cameras(self) -> list[Camera]:
        self._check_open()
        return sorted(self._cameras.values(), key=lambda c: c.id)

    async def add_segment(self, segment: NewSegment) -> Segment:
        self._check_open()
        check_new_segment(segment)
        if segment.camera_id not in self._cameras:
            raise IndexConflict(
                f"add segment {segment.path}: unknown camera (call ensure_camera first)"
            )
        if segment.path in self._paths:
            raise IndexConflict(
                f"add segment {segment.path}: a segment with this path is already indexed"
            )
        prev_ms = prev_byte = 0
        for kf in segment.keyframes:
            if kf.offset_ms < prev_ms or kf.byte_offset < prev_byte:
                raise IndexConflict(f"{segment.path}: keyframes must be in increasing order")
            prev_ms, prev_byte = kf.offset_ms, kf.byte_offset
        stored = Segment(**{f: getattr(segment, f) for f in NewSegment.__dataclass_fields__})
        stored = replace(stored, id=self._next_segment_id, keyframes=tuple(segment.keyframes))
        self._next_segment_id += 1
        self._segments[stored.id] = stored
        self._paths.add(stored.path)
        return stored

    async def get_segment(self, segment_id: int) -> Segment | None:
        self._check_open()
        return self._segments.get(segment_id)

    async def segments_between(
        self, camera_id: str, start_ms: int, end_ms: int, *, limit: int | None = None
    ) -> list[Segment]:
        self._check_open()
        found = [s for s in self._ordered(camera_id) if s.start_ms < end_ms and s.end_ms > start_ms]
        return found if limit is None else found[:limit]

    async def segment_at(self, camera_id: str, t_ms: int) -> Segment | None:
        self._check_open()
        covering = [s for s in self._ordered(camera_id) if s.start_ms <= t_ms < s.end_ms]
        return covering[-1] if covering else None

    async def latest_segment(self, camera_id: str) -> Segment | None:
        self._check_open()
        ordered = self._ordered(camera_id)
        return ordered[-1] if ordered else None

    async def runs(self, camera_id: str, start_ms: int, end_ms: int) -> list[Run]:
        segments = await self.segments_between(camera_id, start_ms, end_ms)
        rows = [(s.run_start_ms, s.start_ms, s.end_ms, s.bytes) for s in segments]
        return merge_runs(camera_id, rows, start_ms, end_ms)

    async def days_with_segments(
        self, camera_id: str, day_bounds: Sequence[tuple[int, int]]
    ) -> list[bool]:
        self._check_open()
        starts = [s.start_ms for s in self._ordered(camera_id)]
        return [any(lo <= t < hi for t in starts) for lo, hi in day_bounds]

    async def usage(self) -> StorageUsage:
        self._check_open()
        per_camera = []
        for camera_id in sorted(self._cameras):
            segments = self._ordered(camera_id)
            per_camera.append(
                CameraUsage(
                    camera_id=camera_id,
                    bytes=sum(s.bytes for s in segments),
                    segments=len(segments),
                    oldest_ms=segments[0].start_ms if segments else None,
                    newest_ms=segments[-1].end_ms if segments else None,
                )
            )
        return StorageUsage(
            total_bytes=sum(c.bytes for c in per_camera),
            per_camera=tuple(per_camera),
            garbage_bytes=sum(g.bytes for g in self._garbage.values()),
        )

    async def oldest_segments(
        self,
        *,
        limit: int,
        camera_id: str | None = None,
        after: tuple[int, int] | None = None,
        ending_by_ms: int | None = None,
        unprotected_at_ms: int | None = None,
        hard_only: bool = False,
    ) -> list[SegmentRef]:
        self._check_open()
        out = []
        for s in self._ordered(camera_id):
            if after is not None and (s.start_ms, s.id) <= after:
                continue
            if ending_by_ms is not None and s.end_ms > ending_by_ms:
                continue
            if unprotected_at_ms is not None and self._protected(s, unprotected_at_ms, hard_only):
                continue
            out.append(_ref(s))
            if len(out) >= limit:
                break
        return out

    async def segment_refs(self, camera_id: str, *, batch: int = 1000) -> AsyncIterator[SegmentRef]:
        self._check_open()
        for s in self._ordered(camera_id):
            yield _ref(s)

    async def add_protection(self, protection: Protection) -> Protection:
        self._check_open()
        check_protection(protection)
        if protection.camera_id not in self._cameras:
            raise IndexConflict("add protection: unknown camera (call ensure_camera first)")
        stored = replace(protection, id=self._next_protection_id)
        self._next_protection_id += 1
        self._protections[stored.id] = stored
        return stored

    async def remove_protection(self, protection_id: int) -> bool:
        self._check_open()
        return self._protections.pop(protection_id, None) is not None

    async def protections(
        self, *, camera_id: str | None = None, active_at_ms: int | None = None
    ) -> list[Protection]:
        self._check_open()
        found = [
            p
            for p in self._protections.values()
            if (camera_id is None or p.camera_id == camera_id)
            and (active_at_ms is None or _active(p, active_at_ms))
        ]
        return sorted(found, key=lambda p: (p.camera_id, p.start_ms, p.id))

    async def expire_protections(self, now_ms: int) -> int:
        self._check_open()
        expired = [p.id for p in self._protections.values() if not _active(p, now_ms)]
        for protection_id in expired:
            del self._protections[protection_id]
        return len(expired)

    async def mark_garbage(
        self,
        segment_ids: Iterable[int],
        *,
        keep_protected_at_ms: int | None = None,
        hard_only: bool = False,
    ) -> list[GarbageEntry]:
        self._check_open()
        moved = []
        for segment_id in sorted(set(segment_ids)):
            segment = self._segments.get(segment_id)
            if segment is None:
                continue
            at = keep_protected_at_ms
            if at is not None and self._protected(segment, at, hard_only):
                continue
            entry = GarbageEntry(segment.path, segment.camera_id, segment.bytes)
            self._garbage[entry.path] = entry
            del self._segments[segment_id]
            self._paths.discard(segment.path)
            moved.append(entry)
        return moved

    async def list_garbage(self, *, limit: int = 1000) -> list[GarbageEntry]:
        self._check_open()
        return [self._garbage[path] for path in sorted(self._garbage)[:limit]]

    async def clear_garbage(self, paths: Iterable[str]) -> None:
        self._check_open()
        for path in paths:
            self._garbage.pop(path, None)

    def _check_open(self) -> None:
        if not self._open:
            raise IndexFailure("memory index is not open")

    def _ordered(self, camera_id: str | None) -> list[Segment]:
        chosen = (
            s for s in self._segments.values() if camera_id is None or s.camera_id == camera_id
        )
        return sorted(chosen, key=lambda s: (s.start_ms, s.id))

    def _protected(self, segment: Segment, at_ms: int, hard_only: bool = False) -> bool:
        return any(
            p.camera_id == segment.camera_id
            and p.start_ms < segment.end_ms
            and p.end_ms > segment.start_ms
            and _active(p, at_ms)
            and not (hard_only and p.yields_to_space)
            for p in self._protections.values()
        )


def _active(protection: Protection, at_ms: int) -> bool:
    return protection.expires_ms is None or protection.expires_ms > at_ms


def _ref(s: Segment) -> SegmentRef:
    return SegmentRef(s.id, s.camera_id, s.run_start_ms, s.start_ms, s.end_ms, s.bytes, s.path)
