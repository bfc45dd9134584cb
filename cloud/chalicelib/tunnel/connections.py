"""Live WebSocket connections: who is on each (a recorder's RID or a device's account).

Items: `conn#ID/meta`, `conns/ID` (every live connection, for the local host's restart) and,
for devices, `acct#ACCT/conn#ID` (so disabling an account can close its connections). They
expire after `lifetime_s` in case a $disconnect is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from ..storage.items import ItemStore

RECORDER = "recorder"
DEVICE = "device"


@dataclass(frozen=True)
class Connection:
    id: str
    role: str
    rid: str | None
    acct: str | None


class ConnectionTable:
    def __init__(self, items: ItemStore, clock: Clock, lifetime_s: int) -> None:
        self._items = items
        self._clock = clock
        self._lifetime_s = lifetime_s

    def add(
        self, conn_id: str, role: str, *, rid: str | None = None, acct: str | None = None
    ) -> None:
        now = int(self._clock.now())
        expires = now + self._lifetime_s
        self._items.put(
            f"conn#{conn_id}",
            "meta",
            {"role": role, "rid": rid, "acct": acct, "at": now},
            expires_at=expires,
        )
        self._items.put("conns", conn_id, {}, expires_at=expires)
        if acct is not None:
            self._items.put(f"acct#{acct}", f"conn#{conn_id}", {}, expires_at=expires)

    def get(self, conn_id: str) -> Connection | None:
        item = self._items.get(f"conn#{conn_id}", "meta")
        if item is None:
            return None
        return Connection(conn_id, str(item["role"]), item.get("rid"), item.get("acct"))

    def remove(self, conn_id: str) -> Connection | None:
        self._items.delete("conns", conn_id)
        item = self._items.delete(f"conn#{conn_id}", "meta")
        if item is None:
            return None
        if item.get("acct"):
            self._items.delete(f"acct#{item['acct']}", f"conn#{conn_id}")
        return Connection(conn_id, str(item["role"]), item.get("rid"), item.get("acct"))

    def all(self) -> list[str]:
        return [conn_id for conn_id, _ in self._items.query("conns")]

    def of_account(self, acct: str) -> list[str]:
        return [sk.removeprefix("conn#") for sk, _ in self._items.query(f"acct#{acct}", "conn#")]
