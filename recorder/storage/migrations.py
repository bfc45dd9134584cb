"""Versioned schema of the segment index.

The version lives in `PRAGMA user_version` (in the database header: no extra table to get out of
step). Each `Migration` runs in its own IMMEDIATE transaction together with the version bump, so
a crash or a failing statement leaves the database at the previous version, never half-migrated.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from recorder.errors import IndexFailure, SchemaTooNew

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    "cameras, segments, garbage",
    (
        """CREATE TABLE cameras (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )""",
        # AUTOINCREMENT: ids are never reused, so an id a client cached cannot come to mean
        # another segment after retention deleted the newest rows.
        """CREATE TABLE segments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            run_start_ms INTEGER NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            bytes INTEGER NOT NULL CHECK (bytes >= 0),
            path TEXT NOT NULL UNIQUE,
            init_bytes INTEGER NOT NULL,
            keyframes BLOB NOT NULL,
            video_codec TEXT NOT NULL,
            has_audio INTEGER NOT NULL,
            CHECK (run_start_ms <= start_ms AND start_ms <= end_ms
                   AND end_ms - start_ms <= 3600000)
        )""",
        # Playback: one camera's time range. The rowid rides along, so ORDER BY start_ms, id
        # needs no sort.
        "CREATE INDEX segments_camera_start ON segments (camera_id, start_ms)",
        # Retention: oldest first across cameras.
        "CREATE INDEX segments_start ON segments (start_ms)",
        """CREATE TABLE garbage (
            path TEXT PRIMARY KEY,
            camera_id TEXT NOT NULL,
            bytes INTEGER NOT NULL
        )""",
    ),
)

_V2 = Migration(
    2,
    "protections; per-camera usage kept by triggers",
    (
        """CREATE TABLE protections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            expires_ms INTEGER,
            CHECK (start_ms < end_ms)
        )""",
        "CREATE INDEX protections_camera_start ON protections (camera_id, start_ms)",
        # Summing 2.6 M rows takes a second; retention asks every 30 s and the API on every
        # status page. Triggers keep the sums exact in the same transaction as the row change.
        """CREATE TABLE camera_usage (
            camera_id TEXT PRIMARY KEY REFERENCES cameras (id),
            bytes INTEGER NOT NULL,
            segments INTEGER NOT NULL
        )""",
        """INSERT INTO camera_usage (camera_id, bytes, segments)
           SELECT camera_id, sum(bytes), count(*) FROM segments GROUP BY camera_id""",
        """CREATE TRIGGER segments_usage_insert AFTER INSERT ON segments BEGIN
               INSERT INTO camera_usage (camera_id, bytes, segments)
               VALUES (new.camera_id, new.bytes, 1)
               ON CONFLICT (camera_id) DO UPDATE
               SET bytes = bytes + excluded.bytes, segments = segments + 1;
           END""",
        """CREATE TRIGGER segments_usage_delete AFTER DELETE ON segments BEGIN
               UPDATE camera_usage SET bytes = bytes - old.bytes, segments = segments - 1
               WHERE camera_id = old.camera_id;
           END""",
        """CREATE TRIGGER segments_usage_update AFTER UPDATE OF bytes, camera_id ON segments
           BEGIN
               UPDATE camera_usage SET bytes = bytes - old.bytes, segments = segments - 1
               WHERE camera_id = old.camera_id;
               INSERT INTO camera_usage (camera_id, bytes, segments)
               VALUES (new.camera_id, new.bytes, 1)
               ON CONFLICT (camera_id) DO UPDATE
               SET bytes = bytes + excluded.bytes, segments = segments + 1;
           END""",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
LATEST_VERSION = MIGRATIONS[-1].version


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(
    conn: aiosqlite.Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    what: str = "index",
) -> int:
    """Apply the missing migrations in order; return the resulting version. `what` names the
    database in messages (the segment index, the site database).

    `conn` must be in autocommit mode (isolation_level=None): we manage transactions here."""
    _check_sequence(migrations)
    latest = migrations[-1].version if migrations else 0
    current = await schema_version(conn)
    if current > latest:
        raise SchemaTooNew(
            f"the {what} has schema version {current}, this recorder knows up to {latest}: "
            "run a newer recorder or restore a backup"
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        try:
            await conn.execute("BEGIN IMMEDIATE")
            # Another process may have migrated while we waited for the write lock.
            if await schema_version(conn) >= migration.version:
                await conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise IndexFailure(
                f"schema migration {migration.version} ({migration.description}) failed: {exc}"
            ) from exc
        log.info(
            "%s schema migrated to version %d: %s", what, migration.version, migration.description
        )
        current = migration.version
    return current


def _check_sequence(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration versions must be 1, 2, 3...; got {migration.version}")
