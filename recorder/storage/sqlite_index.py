"""`SegmentIndex` on SQLite through aiosqlite (one connection, one worker thread).

Pragmas and why:
- journal_mode=WAL: readers (API, playback) never block the writer (capture) and vice versa.
- synchronous=NORMAL: in WAL mode a commit is not fsynced, only checkpoints are. A power cut can
  lose the last commits but never corrupts the database. That is safe here because the files on
  disk are the truth for recency: a lost `add_segment` leaves a complete file that reconciliation
  re-indexes, and a lost `mark_garbage` leaves rows whose files are gone, which it drops. FULL
  would fsync on each of ~1 commit/s/camera for nothing. Protections are the exception (nothing
  on disk can rebuild them), so their writes switch to FULL for that one commit.
- foreign_keys=ON: SQLite leaves it off per connection; a segment of an unknown camera is a bug.
- busy_timeout: a CLI or backup holding the lock briefly should delay us, not fail us.

One asyncio.Lock serialises every statement group: the connection is shared, and two coroutines
interleaving statements would otherwise run inside each other's transactions.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite

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
from recorder.storage.keyframe_codec import pack_keyframes, unpack_keyframes
from recorder.storage.migrations import MIGRATIONS, Migration
from recorder.storage.model import (
    MAX_SEGMENT_DURATION_MS,
    YIELDING_PROTECTION_PREFIX,
    Camera,
    CameraUsage,
    NewSegment,
    Protection,
    Run,
    Segment,
    StorageUsage,
)
from recorder.storage.sqlite import SqliteDatabase

log = logging.getLogger(__name__)

_SEGMENT_COLUMNS = (
    "id, camera_id, run_start_ms, start_ms, end_ms, bytes, path, init_bytes, keyframes, "
    "video_codec, has_audio"
)
_REF_COLUMNS = "id, camera_id, run_start_ms, start_ms, end_ms, bytes, path"
_PROTECTION_COLUMNS = "id, camera_id, start_ms, end_ms, reason, expires_ms"
# `s` is the segment row; :at the instant protections are judged at.
_UNPROTECTED = """NOT EXISTS (
    SELECT 1 FROM protections p
    WHERE p.camera_id = s.camera_id AND p.start_ms < s.end_ms AND p.end_ms > s.start_ms
      AND (p.expires_ms IS NULL OR p.expires_ms > :at){hard})"""
# Only protections that do not yield to space (see YIELDING_PROTECTION_PREFIX).
_HARD = f" AND substr(p.reason, 1, {len(YIELDING_PROTECTION_PREFIX)}) != :yielding"


def _unprotected(params: dict[str, Any], at_ms: int | None, hard_only: bool) -> str:
    params["at"] = at_ms
    if hard_only:
        params["yielding"] = YIELDING_PROTECTION_PREFIX
    return _UNPROTECTED.format(hard=_HARD if hard_only else "")


class SqliteSegmentIndex(SqliteDatabase):
    what = "index"

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        super().__init__(path, migrations)
        self._clock = clock or SystemClock()

    # -- cameras ---------------------------------------------------------------------------

    async def ensure_camera(self, camera_id: str, name: str = "") -> Camera:
        check_camera_id(camera_id)
        name = name or camera_id
        created = int(self._clock.now() * 1000)
        async with self._write("ensure camera") as conn:
            await conn.execute(
                "INSERT INTO cameras (id, name, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE name != excluded.name",
                (camera_id, name, created),
            )
            rows = await conn.execute_fetchall(
                "SELECT id, name, created_ms FROM cameras WHERE id = ?", (camera_id,)
            )
        return Camera(*next(iter(rows)))

    async def cameras(self) -> list[Camera]:
        rows = await self._fetch(
            "list cameras", "SELECT id, name, created_ms FROM cameras ORDER BY id"
        )
        return [Camera(*row) for row in rows]

    # -- segments --------------------------------------------------------------------------

    async def add_segment(self, segment: NewSegment) -> Segment:
        check_new_segment(segment)
        s = segment
        try:
            blob = pack_keyframes(s.keyframes)
        except ValueError as exc:
            raise IndexConflict(f"{s.path}: {exc}") from exc
        async with self._write(f"add segment {s.path}") as conn:
            cursor = await conn.execute(
                "INSERT INTO segments (camera_id, run_start_ms, start_ms, end_ms, bytes, path, "
                "init_bytes, keyframes, video_codec, has_audio) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (s.camera_id, s.run_start_ms, s.start_ms, s.end_ms, s.bytes, s.path,
                 s.init_bytes, blob, s.video_codec, int(s.has_audio)),
            )  # fmt: skip
            new_id = cursor.lastrowid
        return Segment(**{**_fields(s), "id": int(new_id or 0)})

    async def get_segment(self, segment_id: int) -> Segment | None:
        rows = await self._fetch(
            "get segment", f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE id = ?", (segment_id,)
        )
        return _segment(rows[0]) if rows else None

    async def segments_between(
        self, camera_id: str, start_ms: int, end_ms: int, *, limit: int | None = None
    ) -> list[Segment]:
        # The lower bound on start_ms keeps the scan to the range: without it, "ends after
        # start_ms" alone would walk the camera's whole history in the index.
        rows = await self._fetch(
            "query segments",
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera_id = ? AND start_ms > ? "
            "AND start_ms < ? AND end_ms > ? ORDER BY start_ms, id LIMIT ?",
            (camera_id, start_ms - MAX_SEGMENT_DURATION_MS, end_ms, start_ms,
             -1 if limit is None else limit),
        )  # fmt: skip
        return [_segment(row) for row in rows]

    async def segment_at(self, camera_id: str, t_ms: int) -> Segment | None:
        rows = await self._fetch(
            "query segment",
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera_id = ? AND start_ms <= ? "
            "AND start_ms > ? ORDER BY start_ms DESC, id DESC LIMIT 1",
            (camera_id, t_ms, t_ms - MAX_SEGMENT_DURATION_MS),
        )
        found = _segment(rows[0]) if rows else None
        return found if found is not None and found.end_ms > t_ms else None

    async def latest_segment(self, camera_id: str) -> Segment | None:
        rows = await self._fetch(
            "query latest segment",
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera_id = ? "
            "ORDER BY start_ms DESC, id DESC LIMIT 1",
            (camera_id,),
        )
        return _segment(rows[0]) if rows else None

    async def runs(self, camera_id: str, start_ms: int, end_ms: int) -> list[Run]:
        rows = await self._fetch(
            "query runs",
            "SELECT run_start_ms, start_ms, end_ms, bytes FROM segments WHERE camera_id = ? "
            "AND start_ms > ? AND start_ms < ? AND end_ms > ? ORDER BY start_ms, id",
            (camera_id, start_ms - MAX_SEGMENT_DURATION_MS, end_ms, start_ms),
        )
        return merge_runs(camera_id, rows, start_ms, end_ms)

    async def days_with_segments(
        self, camera_id: str, day_bounds: Sequence[tuple[int, int]]
    ) -> list[bool]:
        out = []
        for start_ms, end_ms in day_bounds:
            rows = await self._fetch(
                "query calendar",
                "SELECT 1 FROM segments WHERE camera_id = ? AND start_ms >= ? AND start_ms < ? "
                "LIMIT 1",
                (camera_id, start_ms, end_ms),
            )
            out.append(bool(rows))
        return out

    async def usage(self) -> StorageUsage:
        rows = await self._fetch(
            "compute usage",
            """SELECT c.id, coalesce(u.bytes, 0), coalesce(u.segments, 0),
                 (SELECT start_ms FROM segments s WHERE s.camera_id = c.id
                  ORDER BY start_ms LIMIT 1),
                 (SELECT end_ms FROM segments s WHERE s.camera_id = c.id
                  ORDER BY start_ms DESC LIMIT 1)
               FROM cameras c LEFT JOIN camera_usage u ON u.camera_id = c.id ORDER BY c.id""",
        )
        garbage = await self._fetch("compute usage", "SELECT coalesce(sum(bytes), 0) FROM garbage")
        per_camera = tuple(CameraUsage(*row) for row in rows)
        return StorageUsage(
            total_bytes=sum(c.bytes for c in per_camera),
            per_camera=per_camera,
            garbage_bytes=int(garbage[0][0]),
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
        where = []
        params: dict[str, Any] = {"limit": limit}
        if camera_id is not None:
            where.append("s.camera_id = :camera")
            params["camera"] = camera_id
        if after is not None:
            where.append("(s.start_ms, s.id) > (:after_start, :after_id)")
            params["after_start"], params["after_id"] = after
        if ending_by_ms is not None:
            # start_ms < cutoff bounds the index range; end_ms <= cutoff is the real rule.
            where.append("s.start_ms < :cutoff AND s.end_ms <= :cutoff")
            params["cutoff"] = ending_by_ms
        if unprotected_at_ms is not None:
            where.append(_unprotected(params, unprotected_at_ms, hard_only))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._fetch(
            "list oldest segments",
            f"SELECT {_REF_COLUMNS} FROM segments s {clause} "
            "ORDER BY s.start_ms, s.id LIMIT :limit",
            params,
        )
        return [SegmentRef(*row) for row in rows]

    async def segment_refs(self, camera_id: str, *, batch: int = 1000) -> AsyncIterator[SegmentRef]:
        # Keyset pages, each its own short query: the lock is never held across a `yield`, so
        # capture can keep indexing while reconciliation walks millions of rows.
        after: tuple[int, int] | None = None
        while True:
            page = await self.oldest_segments(limit=batch, camera_id=camera_id, after=after)
            for ref in page:
                yield ref
            if len(page) < batch:
                return
            after = (page[-1].start_ms, page[-1].id)

    # -- protections -----------------------------------------------------------------------

    async def add_protection(self, protection: Protection) -> Protection:
        check_protection(protection)
        p = protection
        async with self._write("add protection", durable=True) as conn:
            cursor = await conn.execute(
                "INSERT INTO protections (camera_id, start_ms, end_ms, reason, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (p.camera_id, p.start_ms, p.end_ms, p.reason, p.expires_ms),
            )
            new_id = cursor.lastrowid
        return Protection(
            p.camera_id, p.start_ms, p.end_ms, p.reason, p.expires_ms, int(new_id or 0)
        )

    async def remove_protection(self, protection_id: int) -> bool:
        async with self._write("remove protection", durable=True) as conn:
            cursor = await conn.execute("DELETE FROM protections WHERE id = ?", (protection_id,))
            return cursor.rowcount > 0

    async def protections(
        self, *, camera_id: str | None = None, active_at_ms: int | None = None
    ) -> list[Protection]:
        rows = await self._fetch(
            "list protections",
            f"SELECT {_PROTECTION_COLUMNS} FROM protections "
            "WHERE (:camera IS NULL OR camera_id = :camera) "
            "AND (:at IS NULL OR expires_ms IS NULL OR expires_ms > :at) "
            "ORDER BY camera_id, start_ms, id",
            {"camera": camera_id, "at": active_at_ms},
        )
        return [Protection(r[1], r[2], r[3], r[4], r[5], r[0]) for r in rows]

    async def expire_protections(self, now_ms: int) -> int:
        async with self._write("expire protections") as conn:
            cursor = await conn.execute(
                "DELETE FROM protections WHERE expires_ms IS NOT NULL AND expires_ms <= ?",
                (now_ms,),
            )
            return cursor.rowcount

    # -- garbage ---------------------------------------------------------------------------

    async def mark_garbage(
        self,
        segment_ids: Iterable[int],
        *,
        keep_protected_at_ms: int | None = None,
        hard_only: bool = False,
    ) -> list[GarbageEntry]:
        params: dict[str, Any] = {"ids": json.dumps(sorted({int(i) for i in segment_ids}))}
        guard = ""
        if keep_protected_at_ms is not None:
            guard = f"AND {_unprotected(params, keep_protected_at_ms, hard_only)}"
        async with self._write("mark garbage") as conn:
            rows = await conn.execute_fetchall(
                f"SELECT s.id, s.path, s.camera_id, s.bytes FROM segments s "
                f"WHERE s.id IN (SELECT value FROM json_each(:ids)) {guard}",
                params,
            )
            chosen = json.dumps([row[0] for row in rows])
            await conn.execute(
                "INSERT OR REPLACE INTO garbage (path, camera_id, bytes) "
                "SELECT path, camera_id, bytes FROM segments "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (chosen,),
            )
            await conn.execute(
                "DELETE FROM segments WHERE id IN (SELECT value FROM json_each(?))", (chosen,)
            )
        return [GarbageEntry(row[1], row[2], row[3]) for row in rows]

    async def list_garbage(self, *, limit: int = 1000) -> list[GarbageEntry]:
        rows = await self._fetch(
            "list garbage", "SELECT path, camera_id, bytes FROM garbage ORDER BY path LIMIT ?",
            (limit,),
        )  # fmt: skip
        return [GarbageEntry(*row) for row in rows]

    async def clear_garbage(self, paths: Iterable[str]) -> None:
        async with self._write("clear garbage") as conn:
            await conn.execute(
                "DELETE FROM garbage WHERE path IN (SELECT value FROM json_each(?))",
                (json.dumps(list(paths)),),
            )

    # -- plumbing --------------------------------------------------------------------------

    async def _fetch(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        async with self._lock:
            conn = self.conn
            with _translated(what):
                return list(await conn.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _write(
        self, what: str, *, durable: bool = False
    ) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self.conn
            with _translated(what):
                if durable:
                    await conn.execute("PRAGMA synchronous=FULL")
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                    except BaseException:
                        if conn.in_transaction:
                            await conn.execute("ROLLBACK")
                        raise
                    await conn.execute("COMMIT")
                finally:
                    if durable:
                        await conn.execute("PRAGMA synchronous=NORMAL")


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IndexConflict(f"{what}: {_integrity_reason(exc)}") from exc
    except sqlite3.Error as exc:
        raise IndexFailure(f"{what} failed: {exc}") from exc
    except ValueError as exc:  # aiosqlite: "Connection closed", "no active connection"
        raise IndexFailure(f"{what} failed: {exc}") from exc


def _integrity_reason(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    if "UNIQUE" in text and "path" in text:
        return "a segment with this path is already indexed"
    if "FOREIGN KEY" in text:
        return "unknown camera (call ensure_camera first)"
    return text


def _fields(segment: NewSegment) -> dict[str, Any]:
    return {name: getattr(segment, name) for name in NewSegment.__dataclass_fields__}


def _segment(row: Sequence[Any]) -> Segment:
    return Segment(
        id=row[0],
        camera_id=row[1],
        run_start_ms=row[2],
        start_ms=row[3],
        end_ms=row[4],
        bytes=row[5],
        path=row[6],
        init_bytes=row[7],
        keyframes=unpack_keyframes(row[8]),
        video_codec=row[9],
        has_audio=bool(row[10]),
    )
