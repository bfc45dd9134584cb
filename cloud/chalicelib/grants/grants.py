"""Grants, written twice (under the recorder and under the account) so both questions, "who may
reach this recorder" and "what may this account reach", are one query."""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from ..storage.items import ItemStore


@dataclass(frozen=True)
class Grant:
    rid: str
    acct: str
    granted_at: int


class GrantStore:
    def __init__(self, items: ItemStore, clock: Clock) -> None:
        self._items = items
        self._clock = clock

    def add(self, rid: str, acct: str) -> Grant:
        now = int(self._clock.now())
        self._items.put(f"rec#{rid}", f"grant#{acct}", {"acct": acct, "granted_at": now})
        self._items.put(f"acct#{acct}", f"grant#{rid}", {"rid": rid, "granted_at": now})
        return Grant(rid, acct, now)

    def has(self, rid: str, acct: str) -> bool:
        return self._items.get(f"rec#{rid}", f"grant#{acct}") is not None

    def revoke(self, rid: str, acct: str) -> bool:
        a = self._items.delete(f"rec#{rid}", f"grant#{acct}")
        b = self._items.delete(f"acct#{acct}", f"grant#{rid}")
        return a is not None or b is not None

    def of_recorder(self, rid: str) -> list[Grant]:
        return [
            Grant(rid, str(item["acct"]), int(item["granted_at"]))
            for _, item in self._items.query(f"rec#{rid}", "grant#")
        ]

    def of_account(self, acct: str) -> list[Grant]:
        return [
            Grant(str(item["rid"]), acct, int(item["granted_at"]))
            for _, item in self._items.query(f"acct#{acct}", "grant#")
        ]
