"""Login throttling: failed attempts counted per account and per address in fixed windows; past
the limit, attempts are refused before the password is even checked."""

from __future__ import annotations

from ..clock import Clock
from ..errors import RateLimited
from ..storage.items import ItemStore


class LoginThrottle:
    def __init__(
        self, items: ItemStore, clock: Clock, per_account: int, per_address: int, window_s: int
    ) -> None:
        self._items = items
        self._clock = clock
        self._limits = {"acct": per_account, "addr": per_address}
        self._window_s = window_s

    def _keys(self, email: str, address: str) -> list[tuple[str, str, int]]:
        window = int(self._clock.now()) // self._window_s
        return [
            (f"throttle#acct#{email}", f"w#{window}", self._limits["acct"]),
            (f"throttle#addr#{address}", f"w#{window}", self._limits["addr"]),
        ]

    def check(self, email: str, address: str) -> None:
        for pk, sk, limit in self._keys(email, address):
            item = self._items.get(pk, sk)
            if item is not None and int(item.get("n", 0)) >= limit:
                raise RateLimited("too many failed logins; try again later")

    def failed(self, email: str, address: str) -> None:
        expires = int(self._clock.now()) + 2 * self._window_s
        for pk, sk, _ in self._keys(email, address):
            self._items.increment(pk, sk, "n", 1, expires_at=expires)
