"""Integrations: a name, a secret and the cameras it may report on, in the site database.

The secret is generated here (32 random bytes), returned once when the integration is created
and never again. It cannot be kept as a hash: checking an HMAC needs the key itself. It lives in
site.sqlite3 beside the cameras' RTSP passwords, a 0600 file, and is never logged.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from dataclasses import dataclass

from recorder.clock import Clock
from recorder.errors import Conflict, InvalidRequest, NotAuthenticated, NotFound, TooManyAttempts
from recorder.integrations.signature import MAX_REMEMBERED, Signed
from recorder.site_db import SiteDatabase

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Integration:
    name: str
    cameras: tuple[str, ...]  # empty: every camera
    created_ms: int
    created_by: str

    def may_report_on(self, camera_id: str) -> bool:
        return not self.cameras or camera_id in self.cameras


class IntegrationStore:
    def __init__(self, db: SiteDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, name: str, cameras: tuple[str, ...], by: str) -> tuple[Integration, str]:
        """A new integration and its secret (the only time the secret is handed out)."""
        if not NAME_RE.match(name):
            raise InvalidRequest(
                "name: 1-63 of a-z, 0-9, '-', '_', starting with a letter or digit"
            )
        secret = secrets.token_urlsafe(32)
        integration = Integration(name, cameras, int(self._clock.now() * 1000), by)
        try:
            await self._db.conn.execute(
                "INSERT INTO integrations (name, secret, cameras, created_ms, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, secret, json.dumps(list(cameras)), integration.created_ms, by),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"integration {name!r} already exists") from None
        return integration, secret

    async def all(self) -> list[Integration]:
        async with self._db.conn.execute(
            "SELECT name, cameras, created_ms, created_by FROM integrations ORDER BY name"
        ) as cursor:
            rows = await cursor.fetchall()
        return [_integration(row) for row in rows]

    async def with_secret(self, name: str) -> tuple[Integration, str] | None:
        """The integration and its secret, to check a signature; None if there is none."""
        async with self._db.conn.execute(
            "SELECT name, cameras, created_ms, created_by, secret FROM integrations WHERE name = ?",
            (name,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return _integration(row[:4]), str(row[4])

    async def accept_once(self, signed: Signed, max_remembered: int = MAX_REMEMBERED) -> None:
        """Remember a checked signature until its window ends; NotAuthenticated if it was already
        accepted (a replay). On disk, so a restart does not reopen the window."""
        now = self._clock.now()
        conn = self._db.conn
        await conn.execute("DELETE FROM webhook_signatures WHERE forget_at <= ?", (now,))
        async with conn.execute(
            "SELECT count(*), sum(key = ?) FROM webhook_signatures", (signed.replay_key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None and row[1]:
            raise NotAuthenticated("replayed request: this signature was already used")
        # Full of live entries: refuse rather than forget one early, which would reopen a replay.
        if row is not None and int(row[0]) >= max_remembered:
            raise TooManyAttempts("too many webhook requests: try again in a minute", 60)
        cursor = await conn.execute(
            "INSERT OR IGNORE INTO webhook_signatures (key, forget_at) VALUES (?, ?)",
            (signed.replay_key, signed.forget_at),
        )
        if cursor.rowcount != 1:  # accepted by a concurrent request meanwhile
            raise NotAuthenticated("replayed request: this signature was already used")

    async def delete(self, name: str) -> None:
        cursor = await self._db.conn.execute("DELETE FROM integrations WHERE name = ?", (name,))
        if cursor.rowcount != 1:
            raise NotFound(f"no integration {name!r}")


def _integration(row: sqlite3.Row | tuple[object, ...]) -> Integration:
    name, cameras, created_ms, created_by = row
    return Integration(
        str(name), tuple(json.loads(str(cameras))), int(str(created_ms)), str(created_by)
    )
