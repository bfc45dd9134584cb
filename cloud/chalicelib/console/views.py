"""The console's read models, as plain dicts for the REST routes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..accounts.service import AccountService
from ..audit.log import AuditLog
from ..grants.grants import GrantStore
from ..recorders.registry import RecorderRegistry


class ConsoleViews:
    def __init__(
        self,
        recorders: RecorderRegistry,
        accounts: AccountService,
        grants: GrantStore,
        audit: AuditLog,
    ) -> None:
        self._recorders = recorders
        self._accounts = accounts
        self._grants = grants
        self._audit = audit

    def recorders(self) -> list[dict[str, Any]]:
        return [
            {
                "rid": r.rid,
                "online": r.online,
                "last_seen": r.last_seen,
                "version": r.version,
                "registered_at": r.registered_at,
                "disabled": r.disabled,
                "accounts_granted": [g.acct for g in self._grants.of_recorder(r.rid)],
            }
            for r in self._recorders.list()
        ]

    def accounts(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in self._accounts.list()]

    def grants(self) -> list[dict[str, Any]]:
        return [asdict(g) for r in self._recorders.list() for g in self._grants.of_recorder(r.rid)]

    def audit(self, day: str | None, limit: int) -> list[dict[str, Any]]:
        return [asdict(e) for e in self._audit.day(day, limit)]
