"""Brokered sessions: a session id chosen by the device, bound to its account, the recorder and
the device's connection. The relay keeps only these ids and times, never what flows.

Items: `sess#SID/meta` plus indexes `rec#RID/sess#SID`, `acct#ACCT/sess#SID` and
`conn#DEVCONN/sess#SID`, so a revocation, a recorder going offline or a device leaving finds its
sessions in one query. All expire after `lifetime_s` in case a close is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from ..storage.items import ItemStore


@dataclass(frozen=True)
class Session:
    sid: str
    acct: str
    rid: str
    device_conn: str
    opened_at: int


class SessionTable:
    def __init__(self, items: ItemStore, clock: Clock, lifetime_s: int) -> None:
        self._items = items
        self._clock = clock
        self._lifetime_s = lifetime_s

    def open(self, sid: str, acct: str, rid: str, device_conn: str) -> Session | None:
        """Record a new session; None if the id is taken."""
        now = int(self._clock.now())
        expires = now + self._lifetime_s
        item = {"acct": acct, "rid": rid, "dev": device_conn, "at": now}
        if not self._items.put(f"sess#{sid}", "meta", item, expires_at=expires, if_absent=True):
            return None
        for pk in (f"rec#{rid}", f"acct#{acct}", f"conn#{device_conn}"):
            self._items.put(pk, f"sess#{sid}", {}, expires_at=expires)
        return Session(sid, acct, rid, device_conn, now)

    def get(self, sid: str) -> Session | None:
        item = self._items.get(f"sess#{sid}", "meta")
        if item is None:
            return None
        return Session(sid, str(item["acct"]), str(item["rid"]), str(item["dev"]), int(item["at"]))

    def close(self, sid: str) -> Session | None:
        """Forget a session; returns it the first time only."""
        item = self._items.delete(f"sess#{sid}", "meta")
        if item is None:
            return None
        session = Session(
            sid, str(item["acct"]), str(item["rid"]), str(item["dev"]), int(item["at"])
        )
        for pk in (f"rec#{session.rid}", f"acct#{session.acct}", f"conn#{session.device_conn}"):
            self._items.delete(pk, f"sess#{sid}")
        return session

    def _ids(self, pk: str) -> list[str]:
        return [sk.removeprefix("sess#") for sk, _ in self._items.query(pk, "sess#")]

    def of_recorder(self, rid: str) -> list[str]:
        return self._ids(f"rec#{rid}")

    def of_account(self, acct: str) -> list[str]:
        return self._ids(f"acct#{acct}")

    def of_connection(self, conn_id: str) -> list[str]:
        return self._ids(f"conn#{conn_id}")
