"""Saved camera groups of the live wall (the PWA's mosaics), one list per user."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from recorder.clock import Clock
from recorder.errors import IndexFailure
from recorder.site_db import SiteDatabase


class CameraGroupStore:
    def __init__(self, db: SiteDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(self, user_id: int) -> list[dict[str, Any]]:
        try:
            async with self._db.conn.execute(
                "SELECT groups FROM camera_groups WHERE user_id = ?", (user_id,)
            ) as cursor:
                row = await cursor.fetchone()
        except sqlite3.Error as exc:
            raise IndexFailure(f"cannot read camera groups: {exc}") from exc
        groups: list[dict[str, Any]] = json.loads(row[0]) if row else []
        return groups

    async def put(self, user_id: int, groups: list[dict[str, Any]]) -> None:
        try:
            await self._db.conn.execute(
                "INSERT INTO camera_groups (user_id, groups, updated_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET groups = excluded.groups, "
                "updated_ms = excluded.updated_ms",
                (user_id, json.dumps(groups), int(self._clock.now() * 1000)),
            )
        except sqlite3.Error as exc:
            raise IndexFailure(f"cannot save camera groups: {exc}") from exc
