"""Audit records: who, what, when, from where, with which ids. Metadata only: the relay never
has bodies to log (they are sealed end to end), and callers pass ids, never message fields.

Stored by UTC day (`audit#YYYY-MM-DD`), sorted by time, expiring after `audit_days`.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from ..clock import Clock
from ..storage.items import ItemStore

log = logging.getLogger("skycam.relay.audit")

KINDS = frozenset(
    {
        "signup",
        "login",
        "login_failed",
        "refresh_reuse",
        "logout",
        "account_disabled",
        "recorder_registered",
        "recorder_connected",
        "recorder_refused",
        "recorder_disabled",
        "invitation_registered",
        "invitation_used",
        "grant_added",
        "grant_revoked",
        "session_opened",
        "session_refused",
        "session_closed",
        "media_opened",
        "media_ended",
    }
)


@dataclass(frozen=True)
class AuditEntry:
    at_ms: int
    kind: str
    acct: str | None
    rid: str | None
    sid: str | None
    address: str | None
    detail: str | None


def _day(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_s))


class AuditLog:
    def __init__(self, items: ItemStore, clock: Clock, keep_days: int) -> None:
        self._items = items
        self._clock = clock
        self._keep_s = keep_days * 86400

    def record(
        self,
        kind: str,
        *,
        acct: str | None = None,
        rid: str | None = None,
        sid: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """`detail` is a short fixed phrase chosen by the relay (a refusal reason), never
        anything a client sent."""
        if kind not in KINDS:
            raise ValueError(f"unknown audit kind {kind}")
        now = self._clock.now()
        at_ms = int(now * 1000)
        entry = {"kind": kind, "acct": acct, "rid": rid, "sid": sid, "address": address}
        entry["detail"] = detail
        self._items.put(
            f"audit#{_day(now)}",
            f"{at_ms:013d}#{secrets.token_hex(4)}",
            {"at_ms": at_ms, **entry},
            expires_at=int(now) + self._keep_s,
        )
        log.info(
            "%s acct=%s rid=%s sid=%s address=%s %s", kind, acct, rid, sid, address, detail or ""
        )

    def day(self, day: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """One UTC day's entries (default today), newest first."""
        key = day or _day(self._clock.now())
        rows = self._items.query(f"audit#{key}", newest_first=True, limit=limit)
        return [
            AuditEntry(
                at_ms=int(item["at_ms"]),
                kind=str(item["kind"]),
                acct=item.get("acct"),
                rid=item.get("rid"),
                sid=item.get("sid"),
                address=item.get("address"),
                detail=item.get("detail"),
            )
            for _, item in rows
        ]
