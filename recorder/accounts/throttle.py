"""Login rate limiting: slows password guessing per user name and per client address.

After `free_failures` failed logins within `window_s`, further attempts for that user name (or
from that address) wait an exponentially growing delay, capped at `max_delay_s`. A successful
login clears the user name's record. Held in memory: a restart forgives, which is acceptable
since the delay is minutes, and keeps login free of writes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from recorder.clock import Clock
from recorder.errors import TooManyAttempts


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        free_failures: int = 5,
        window_s: float = 900,
        max_delay_s: float = 900,
        per_client_failures: int = 30,
    ) -> None:
        self._clock = clock
        self._free = free_failures
        self._window = window_s
        self._max_delay = max_delay_s
        self._per_client = per_client_failures
        self._records: dict[str, _Record] = {}

    def _prune(self, key: str) -> _Record:
        record = self._records.setdefault(key, _Record())
        horizon = self._clock.monotonic() - self._window
        while record.failures and record.failures[0] < horizon:
            record.failures.popleft()
        return record

    def _wait_s(self, key: str, free: int) -> float:
        record = self._prune(key)
        extra = len(record.failures) - free
        if extra < 0:
            return 0.0
        delay = min(2.0 ** min(extra, 20), self._max_delay)
        return record.failures[-1] + delay - self._clock.monotonic()

    def check(self, username: str, client: str) -> None:
        """Raise TooManyAttempts if this attempt must wait."""
        wait = max(
            self._wait_s("user:" + username.lower(), self._free),
            self._wait_s("client:" + client, self._per_client),
        )
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyAttempts(f"too many failed logins: try again in {seconds} s", seconds)

    def failed(self, username: str, client: str) -> None:
        now = self._clock.monotonic()
        for key in ("user:" + username.lower(), "client:" + client):
            self._prune(key).failures.append(now)
        if len(self._records) > 10_000:  # bound memory under a spray of names
            stale = [k for k, r in self._records.items() if not r.failures]
            for key in stale:
                del self._records[key]

    def succeeded(self, username: str) -> None:
        self._records.pop("user:" + username.lower(), None)


def webhook_throttle(clock: Clock) -> LoginThrottle:
    """Failed webhook signatures, limited per client address only (callers pass a name made of
    the address): a limit per integration would let anyone lock a real device out by sending bad
    signatures in its name."""
    return LoginThrottle(clock, free_failures=30, per_client_failures=30)
