"""Where events live: the `EventStore` boundary and its SQLite adapter.

Events have their own database file (data_dir/events.sqlite3): they are written at a different
pace from segments, kept for a different time, and losing one database must not lose the other.
Same discipline as the segment index: WAL, versioned migrations, one connection, one lock,
sqlite3 errors re-raised as `EventStoreFailure`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from recorder.errors import EventStoreFailure
from recorder.motion.analysis import Box
from recorder.motion.model import (
    MAX_EVENT_MS,
    EventPage,
    EventQuery,
    EventSource,
    MotionEvent,
    make_cursor,
)
from recorder.storage.migrations import Migration
from recorder.storage.sqlite import SqliteDatabase

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events",
        (
            # AUTOINCREMENT: an id a client cached (a push notification) never comes to mean
            # another event after old ones are pruned.
            """CREATE TABLE events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                camera_id TEXT NOT NULL,
                source TEXT NOT NULL,
                start_ms INTEGER NOT NULL,
                end_ms INTEGER,
                last_motion_ms INTEGER NOT NULL,
                score REAL NOT NULL,
                zones TEXT NOT NULL,
                box_x REAL, box_y REAL, box_w REAL, box_h REAL,
                thumbnail TEXT,
                record_start_ms INTEGER NOT NULL,
                record_end_ms INTEGER,
                protection_id INTEGER,
                updated_ms INTEGER NOT NULL,
                CHECK (end_ms IS NULL OR end_ms >= start_ms)
            )""",
            # Newest-first pages, all cameras or one; the id rides along for the cursor.
            "CREATE INDEX events_start ON events (start_ms, id)",
            "CREATE INDEX events_camera_start ON events (camera_id, start_ms, id)",
            "CREATE INDEX events_open ON events (id) WHERE end_ms IS NULL",
        ),
    ),
    Migration(
        2,
        "what happened and what was read, for events from other devices",
        (
            "ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'motion'",
            "ALTER TABLE events ADD COLUMN label TEXT NOT NULL DEFAULT ''",
        ),
    ),
)

_COLUMNS = (
    "id, camera_id, source, start_ms, end_ms, last_motion_ms, score, zones, box_x, box_y, "
    "box_w, box_h, thumbnail, record_start_ms, record_end_ms, protection_id, updated_ms, kind, "
    "label"
)


class EventStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, event: MotionEvent) -> MotionEvent:
        """Store a new event (its `id` is ignored); return it with its id."""

    async def update(self, event: MotionEvent) -> None:
        """Overwrite the row `event.id` with every field of `event`."""

    async def get(self, event_id: int) -> MotionEvent | None: ...

    async def query(self, query: EventQuery) -> EventPage:
        """Events overlapping the query's range, newest first (start, then id), one page."""

    async def count(self, query: EventQuery) -> int:
        """How many events the query's filters select (its limit and cursor are ignored)."""

    async def spans(self, query: EventQuery, limit: int) -> list[tuple[int, int]]:
        """(start_ms, end_ms) of the events the query's filters select, oldest first, at most
        `limit` (the query's own limit and cursor are ignored); an open event ends at its
        last motion so far. For density strips: no rows to build."""

    async def open_events(self) -> list[MotionEvent]:
        """Events without an end (open, or left open by a crash)."""

    async def ended_before(self, end_ms: int, *, limit: int = 500) -> list[MotionEvent]:
        """The oldest events that ended before `end_ms` (for pruning)."""

    async def delete(self, event_ids: Iterable[int]) -> None: ...


class SqliteEventStore(SqliteDatabase):
    what = "event store"
    failure = EventStoreFailure

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)

    @asynccontextmanager
    async def _connection(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        conn = self.conn
        async with self._lock:
            try:
                yield conn
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise EventStoreFailure(f"{what} failed: {exc}") from exc

    async def insert(self, event: MotionEvent) -> MotionEvent:
        row = _to_row(event)
        del row["id"]
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        async with self._connection("insert event") as conn:
            cursor = await conn.execute(f"INSERT INTO events ({names}) VALUES ({marks})", row)
            new_id = cursor.lastrowid
        assert new_id is not None
        return replace(event, id=new_id)

    async def update(self, event: MotionEvent) -> None:
        row = _to_row(event)
        sets = ", ".join(f"{name} = :{name}" for name in row if name != "id")
        async with self._connection("update event") as conn:
            await conn.execute(f"UPDATE events SET {sets} WHERE id = :id", row)

    async def get(self, event_id: int) -> MotionEvent | None:
        sql = f"SELECT {_COLUMNS} FROM events WHERE id = :id"
        rows = await self._fetch("read event", sql, {"id": event_id})
        return _from_row(rows[0]) if rows else None

    async def _fetch(self, what: str, sql: str, params: dict[str, Any]) -> list[Any]:
        async with self._connection(what) as conn, conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def query(self, query: EventQuery) -> EventPage:
        where, params = _filters(query)
        position = query.position()
        if position is not None:
            where.append("(start_ms, id) < (:after_start, :after_id)")
            params["after_start"], params["after_id"] = position
        sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)}"
        sql += " ORDER BY start_ms DESC, id DESC LIMIT :limit"
        params["limit"] = query.limit + 1
        rows = await self._fetch("query events", sql, params)
        events = tuple(_from_row(row) for row in rows[: query.limit])
        more = len(rows) > query.limit
        return EventPage(events, make_cursor(events[-1]) if more and events else None)

    async def count(self, query: EventQuery) -> int:
        where, params = _filters(query)
        sql = f"SELECT count(*) FROM events WHERE {' AND '.join(where)}"
        rows = await self._fetch("count events", sql, params)
        return int(rows[0][0])

    async def spans(self, query: EventQuery, limit: int) -> list[tuple[int, int]]:
        where, params = _filters(query)
        sql = (
            f"SELECT start_ms, COALESCE(end_ms, last_motion_ms) FROM events "
            f"WHERE {' AND '.join(where)} ORDER BY start_ms, id LIMIT :limit"
        )
        params["limit"] = limit
        rows = await self._fetch("read event spans", sql, params)
        return [(int(a), int(b)) for a, b in rows]

    async def open_events(self) -> list[MotionEvent]:
        sql = f"SELECT {_COLUMNS} FROM events WHERE end_ms IS NULL ORDER BY id"
        return [_from_row(row) for row in await self._fetch("read open events", sql, {})]

    async def ended_before(self, end_ms: int, *, limit: int = 500) -> list[MotionEvent]:
        # Through the start index: an event ending before end_ms started before it.
        sql = (
            f"SELECT {_COLUMNS} FROM events WHERE start_ms < :t AND end_ms IS NOT NULL "
            "AND end_ms < :t ORDER BY start_ms, id LIMIT :limit"
        )
        rows = await self._fetch("read old events", sql, {"t": end_ms, "limit": limit})
        return [_from_row(row) for row in rows]

    async def delete(self, event_ids: Iterable[int]) -> None:
        ids = [(event_id,) for event_id in event_ids]
        if not ids:
            return
        async with self._connection("delete events") as conn:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.executemany("DELETE FROM events WHERE id = ?", ids)
            await conn.execute("COMMIT")


def _filters(query: EventQuery) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses (never empty) and their parameters for a query's filters."""
    where = ["1"]
    params: dict[str, Any] = {}
    if query.camera_ids is not None:
        names = []
        for i, camera_id in enumerate(sorted(query.camera_ids)):
            params[f"cam{i}"] = camera_id
            names.append(f":cam{i}")
        where.append(f"camera_id IN ({', '.join(names)})" if names else "0")
    if query.end_ms is not None:
        where.append("start_ms < :end")
        params["end"] = query.end_ms
    if query.start_ms is not None:
        where.append("(end_ms IS NULL OR end_ms >= :start) AND start_ms >= :floor")
        params["start"] = query.start_ms
        params["floor"] = query.start_ms - MAX_EVENT_MS
    if query.sources is not None:
        names = []
        for i, source in enumerate(sorted(s.value for s in query.sources)):
            params[f"src{i}"] = source
            names.append(f":src{i}")
        where.append(f"source IN ({', '.join(names)})" if names else "0")
    if query.zone is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(zones) WHERE value = :zone)")
        params["zone"] = query.zone
    return where, params


def _to_row(event: MotionEvent) -> dict[str, Any]:
    box = event.box
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "source": event.source.value,
        "start_ms": event.start_ms,
        "end_ms": event.end_ms,
        "last_motion_ms": event.last_motion_ms,
        "score": event.score,
        "zones": json.dumps(list(event.zones)),
        "box_x": None if box is None else box.x,
        "box_y": None if box is None else box.y,
        "box_w": None if box is None else box.w,
        "box_h": None if box is None else box.h,
        "thumbnail": event.thumbnail,
        "record_start_ms": event.record_start_ms,
        "record_end_ms": event.record_end_ms,
        "protection_id": event.protection_id,
        "updated_ms": event.updated_ms,
        "kind": event.kind,
        "label": event.label,
    }


def _from_row(row: Any) -> MotionEvent:
    (event_id, camera_id, source, start, end, last_motion, score, zones, bx, by, bw, bh,
     thumbnail, record_start, record_end, protection_id, updated, kind, label) = row  # fmt: skip
    box = None if bx is None else Box(bx, by, bw, bh)
    return MotionEvent(
        id=event_id,
        camera_id=camera_id,
        source=EventSource(source),
        start_ms=start,
        end_ms=end,
        score=score,
        zones=tuple(json.loads(zones)),
        box=box,
        thumbnail=thumbnail,
        record_start_ms=record_start,
        record_end_ms=record_end,
        updated_ms=updated,
        last_motion_ms=last_motion,
        protection_id=protection_id,
        kind=kind,
        label=label,
    )
