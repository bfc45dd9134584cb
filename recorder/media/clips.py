"""Clips: exported ranges of recordings, kept until deleted, within a quota.

A clip is a job: created `pending`, `running` with progress while its MP4 is remuxed in a
thread, then `ready` (or `failed` with the reason). Its file lives at clips/<camera>/<id>.mp4,
a path we build; the user's name for it is only a label. While it is exported, a protection keeps
retention from deleting the recordings it reads; once written, the clip is its own file and
retention never touches it. Jobs interrupted by a restart are run again at start.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from recorder.clock import Clock
from recorder.errors import Conflict, InvalidRequest, NotFound, RecorderError
from recorder.media.clip_export import export_clip
from recorder.site import Site
from recorder.site_db import SiteDatabase
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Protection

log = logging.getLogger(__name__)

MAX_CLIP_MS = 3_600_000
_COLUMNS = (
    "id, camera_id, name, start_ms, end_ms, exact, status, progress, bytes, duration_ms, error, "
    "created_by, created_ms"
)


@dataclass(frozen=True)
class Clip:
    id: int
    camera_id: str
    name: str
    start_ms: int
    end_ms: int
    exact: bool
    status: str
    progress: float
    bytes: int
    duration_ms: int
    error: str
    created_by: str
    created_ms: int


def _clip(row: tuple[object, ...]) -> Clip:
    (id_, cam, name, start, end, exact, status, progress, size, duration, error, by, at) = row
    return Clip(
        int(str(id_)), str(cam), str(name), int(str(start)), int(str(end)), bool(exact),
        str(status), float(str(progress)), int(str(size)), int(str(duration)), str(error),
        str(by), int(str(at)),
    )  # fmt: skip


class ClipService:
    def __init__(
        self,
        db: SiteDatabase,
        index: SegmentIndex,
        layout: SegmentLayout,
        clock: Clock,
        max_bytes: int,
    ) -> None:
        self._db = db
        self._index = index
        self._layout = layout
        self._clock = clock
        self.max_bytes = max_bytes
        self.root = Site(layout.data_dir).clips
        self._progress: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def path(self, clip: Clip) -> Path:
        return self.root / clip.camera_id / f"{clip.id}.mp4"

    async def create(
        self, camera_id: str, start_ms: int, end_ms: int, *, exact: bool, name: str, by: str
    ) -> Clip:
        if end_ms <= start_ms:
            raise InvalidRequest("end must be after start")
        if end_ms - start_ms > MAX_CLIP_MS:
            raise InvalidRequest("a clip lasts at most one hour")
        segments = await self._index.segments_between(camera_id, start_ms, end_ms)
        if not segments:
            raise NotFound("no recordings in that range")
        estimate = sum(s.bytes for s in segments)  # the clip is at most what it copies
        used = await self.used_bytes()
        if used + estimate > self.max_bytes:
            raise Conflict(
                f"clip quota full: {used} of {self.max_bytes} bytes used, this clip needs up to "
                f"{estimate}; delete clips first"
            )
        now = int(self._clock.now() * 1000)
        cursor = await self._db.conn.execute(
            "INSERT INTO clips (camera_id, name, start_ms, end_ms, exact, status, created_by, "
            "created_ms) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (camera_id, name[:200], start_ms, end_ms, int(exact), by, now),
        )
        assert cursor.lastrowid is not None
        clip = await self.get(cursor.lastrowid)
        self._spawn(clip)
        return clip

    def _spawn(self, clip: Clip) -> None:
        task = asyncio.create_task(self._run(clip), name=f"clip-{clip.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, clip: Clip) -> None:
        await self._set(clip.id, status="running")
        guard = await self._index.add_protection(
            Protection(
                clip.camera_id,
                clip.start_ms,
                clip.end_ms,
                f"clip {clip.id} export",
                int(self._clock.now() * 1000) + 2 * MAX_CLIP_MS,
            )
        )
        loop = asyncio.get_running_loop()
        target = self.path(clip)
        partial = target.with_suffix(".partial")
        try:
            segments = await self._index.segments_between(
                clip.camera_id, clip.start_ms, clip.end_ms
            )
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)

            def progress(fraction: float) -> None:
                loop.call_soon_threadsafe(self._progress.__setitem__, clip.id, fraction)

            result = await asyncio.to_thread(
                export_clip,
                segments,
                self._layout,
                clip.start_ms,
                clip.end_ms,
                partial,
                exact=clip.exact,
                progress=progress,
            )
            await asyncio.to_thread(partial.rename, target)
            await self._set(
                clip.id, status="ready", progress=1.0, bytes=result.bytes,
                duration_ms=result.duration_ms,
            )  # fmt: skip
        except (RecorderError, OSError) as exc:
            partial.unlink(missing_ok=True)
            log.warning("clip %d failed: %s", clip.id, exc)
            await self._set(clip.id, status="failed", error=str(exc)[:500])
        finally:
            self._progress.pop(clip.id, None)
            await self._index.remove_protection(guard.id)

    async def _set(self, clip_id: int, **values: object) -> None:
        columns = ", ".join(f"{key} = ?" for key in values)
        await self._db.conn.execute(
            f"UPDATE clips SET {columns} WHERE id = ?", (*values.values(), clip_id)
        )

    async def get(self, clip_id: int) -> Clip:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM clips WHERE id = ?", (clip_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no clip {clip_id}")
        clip = _clip(tuple(row))
        if clip.id in self._progress:
            clip = replace(clip, progress=self._progress[clip.id])
        return clip

    async def list(self, camera_ids: set[str] | None, limit: int = 200) -> list[Clip]:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM clips ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        clips = [_clip(tuple(row)) for row in rows]
        return [c for c in clips if camera_ids is None or c.camera_id in camera_ids]

    async def delete(self, clip: Clip) -> None:
        await self._db.conn.execute("DELETE FROM clips WHERE id = ?", (clip.id,))
        await asyncio.to_thread(self.path(clip).unlink, missing_ok=True)

    async def used_bytes(self) -> int:
        async with self._db.conn.execute(
            "SELECT coalesce(sum(bytes), 0) FROM clips WHERE status = 'ready'"
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def resume(self) -> int:
        """Run again the jobs a restart interrupted; returns how many."""
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM clips WHERE status IN ('pending', 'running')"
        ) as cursor:
            rows = list(await cursor.fetchall())
        for row in rows:
            self._spawn(_clip(tuple(row)))
        return len(rows)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
