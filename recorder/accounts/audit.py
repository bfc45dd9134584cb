"""The audit log: logins, every video access, camera and permission changes. Queryable."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from recorder.clock import Clock
from recorder.site_db import SiteDatabase

MAX_PAGE = 500
# `scheme://user:password@host`: the userinfo goes, whatever field a caller puts a URL in.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return _USERINFO.sub("", value)
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at_ms: int
    actor: str
    action: str
    camera_id: str | None
    target: str
    outcome: str
    client: str
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, db: SiteDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        action: str,
        actor: str,
        *,
        camera_id: str | None = None,
        target: str = "",
        outcome: str = "ok",
        client: str = "",
        **detail: Any,
    ) -> None:
        await self._db.conn.execute(
            "INSERT INTO audit (at_ms, actor, action, camera_id, target, outcome, client, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(self._clock.now() * 1000),
                actor,
                action,
                camera_id,
                _scrubbed(target),
                outcome,
                client,
                json.dumps(_scrubbed(detail), default=str),
            ),
        )

    async def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        camera_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first. `action` matches a prefix ("video." for all video access)."""
        clauses: list[str] = []
        params: list[str | int] = []
        for column, value in (("actor", actor), ("camera_id", camera_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if action is not None:
            clauses.append("action LIKE ? ESCAPE '\\'")
            params.append(
                action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
        if since_ms is not None:
            clauses.append("at_ms >= ?")
            params.append(since_ms)
        if until_ms is not None:
            clauses.append("at_ms < ?")
            params.append(until_ms)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(1, min(limit, MAX_PAGE)))
        async with self._db.conn.execute(
            "SELECT id, at_ms, actor, action, camera_id, target, outcome, client, detail "
            f"FROM audit {where} ORDER BY id DESC LIMIT ?",
            params,
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            AuditEntry(
                int(r[0]),
                int(r[1]),
                str(r[2]),
                str(r[3]),
                r[4],
                str(r[5]),
                str(r[6]),
                str(r[7]),
                json.loads(r[8]),
            )
            for r in rows
        ]
