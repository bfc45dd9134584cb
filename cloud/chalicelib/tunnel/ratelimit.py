"""Per-account rate limits in fixed one-minute windows (an atomic counter per window)."""

from __future__ import annotations

from ..clock import Clock
from ..errors import RateLimited
from ..storage.items import ItemStore


class AccountRateLimiter:
    def __init__(self, items: ItemStore, clock: Clock) -> None:
        self._items = items
        self._clock = clock

    def hit(self, acct: str, kind: str, per_minute: int, count: int = 1) -> None:
        now = int(self._clock.now())
        count = self._items.increment(
            f"rate#{acct}", f"{kind}#{now // 60}", "n", count, expires_at=now + 120
        )
        if count > per_minute:
            raise RateLimited(f"more than {per_minute} {kind} a minute")
