"""`ItemStore` on SQLite, for the local relay host: one table, JSON fields, one lock.

The local host runs handlers in a thread pool (as Lambda runs invocations side by side), so
one connection is shared under a lock; WAL lets readers of other processes (backups, tests)
look while it runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from ..clock import Clock
from ..errors import StorageError
from .items import Item, check_fields

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
"""


def _matches(item: Item, expect: Item | None) -> bool:
    return expect is None or all(item.get(k) == v for k, v in expect.items())


class SqliteItemStore:
    def __init__(self, path: Path, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _now(self) -> int:
        return int(self._clock.now())

    def _live(self, pk: str, sk: str) -> Item | None:
        row = self._db.execute(
            "SELECT data FROM items WHERE pk = ? AND sk = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (pk, sk, self._now()),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _write(self, pk: str, sk: str, item: Item, expires_at: int | None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO items (pk, sk, data, expires_at) VALUES (?, ?, ?, ?)",
            (pk, sk, json.dumps(item, separators=(",", ":")), expires_at),
        )

    def get(self, pk: str, sk: str) -> Item | None:
        with self._lock:
            try:
                return self._live(pk, sk)
            except sqlite3.Error as exc:
                raise StorageError(f"get failed: {exc}") from exc

    def put(
        self,
        pk: str,
        sk: str,
        item: Item,
        *,
        expires_at: int | None = None,
        if_absent: bool = False,
    ) -> bool:
        check_fields(item)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if if_absent and self._live(pk, sk) is not None:
                        return False
                    self._write(pk, sk, item, expires_at)
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"put failed: {exc}") from exc
        return True

    def update(self, pk: str, sk: str, changes: Item, *, expect: Item | None = None) -> Item | None:
        check_fields(changes)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute(
                        "SELECT data, expires_at FROM items WHERE pk = ? AND sk = ? "
                        "AND (expires_at IS NULL OR expires_at > ?)",
                        (pk, sk, self._now()),
                    ).fetchone()
                    if row is None:
                        return None
                    item = dict(json.loads(row[0]))
                    if not _matches(item, expect):
                        return None
                    item.update(changes)
                    self._write(pk, sk, item, row[1])
                    return item
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"update failed: {exc}") from exc

    def delete(self, pk: str, sk: str, *, expect: Item | None = None) -> Item | None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    item = self._live(pk, sk)
                    if item is None or not _matches(item, expect):
                        return None
                    self._db.execute("DELETE FROM items WHERE pk = ? AND sk = ?", (pk, sk))
                    return item
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"delete failed: {exc}") from exc

    def query(
        self, pk: str, prefix: str = "", *, limit: int | None = None, newest_first: bool = False
    ) -> list[tuple[str, Item]]:
        order = "DESC" if newest_first else "ASC"
        # Sort keys are compared as SQLite TEXT (bytewise for UTF-8), the same order as
        # DynamoDB's binary comparison of UTF-8 strings.
        sql = (
            "SELECT sk, data FROM items WHERE pk = ? AND substr(sk, 1, ?) = ? "
            f"AND (expires_at IS NULL OR expires_at > ?) ORDER BY sk {order}"
        )
        args: tuple[object, ...] = (pk, len(prefix), prefix, self._now())
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self._lock:
            try:
                rows = self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"query failed: {exc}") from exc
        return [(sk, dict(json.loads(data))) for sk, data in rows]

    def increment(self, pk: str, sk: str, field: str, by: int, *, expires_at: int) -> int:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    item = self._live(pk, sk)
                    if item is None:
                        item, expiry = {}, expires_at
                    else:
                        expiry = self._db.execute(
                            "SELECT expires_at FROM items WHERE pk = ? AND sk = ?", (pk, sk)
                        ).fetchone()[0]
                    value = int(item.get(field, 0)) + by
                    item[field] = value
                    self._write(pk, sk, item, expiry)
                    return value
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"increment failed: {exc}") from exc

    def purge_expired(self) -> int:
        """Remove expired rows (what DynamoDB's TTL sweep does); returns how many."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (self._now(),),
            )
            return cursor.rowcount
