"""How the recorder opens its SQLite databases: one way for the segment index, the site database
and the event store.

`SqliteDatabase` connects in autocommit mode (transactions are explicit), turns on WAL with a
busy timeout, applies the database's migrations, and raises only `failure` (an `IndexFailure`
subclass naming the database) or `SchemaTooNew`. Subclasses run their statements under
`self._lock`, so one connection is never used by two tasks at once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import aiosqlite

from recorder.errors import IndexFailure, SchemaTooNew
from recorder.storage.migrations import Migration, migrate

log = logging.getLogger(__name__)
# aiosqlite logs every statement with its parameters at DEBUG: password hashes, refresh-token
# hashes, cameras' RTSP passwords. Those lines never go out, whatever the root level.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


class SqliteDatabase:
    what = "database"  # names the database in messages
    failure: type[IndexFailure] = IndexFailure
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    file_mode: int | None = None  # e.g. 0o600 for a file holding secrets

    def __init__(self, path: Path, migrations: Sequence[Migration]) -> None:
        self.path = path
        self._migrations = migrations
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self._conn is not None:
            return
        failure = self.failure
        try:
            await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise failure(f"cannot open the {self.what} {self.path}: {exc}") from exc
        try:
            try:
                if self.file_mode is not None:
                    await asyncio.to_thread(self.path.chmod, self.file_mode)
                await self._configure(conn)
            except (OSError, sqlite3.Error) as exc:
                raise failure(f"cannot configure the {self.what} {self.path}: {exc}") from exc
            try:
                await migrate(conn, self._migrations, what=self.what)
            except IndexFailure as exc:
                if isinstance(exc, failure | SchemaTooNew):
                    raise
                raise failure(str(exc)) from exc
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _configure(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA journal_mode=WAL") as cursor:
            row = await cursor.fetchone()
        if not row or str(row[0]).lower() != "wal":
            log.warning("%s %s: WAL unavailable here (journal_mode=%s)", self.what, self.path, row)
        await conn.execute(f"PRAGMA synchronous={self.synchronous}")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise self.failure(f"the {self.what} {self.path} is not open")
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                await conn.close()

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
