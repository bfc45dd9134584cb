"""What the site database says about a session, remembered for a moment and shared.

Every call and socket authenticates: the access token's signature and expiry are checked each
time (no I/O), then the site database is asked whether its session is still open and who its
user is, with which rights. Opening the live wall makes about eight such calls at once (the
views' calls, the realtime socket, a socket per tile), each several round trips between the
event loop and the database's thread, which under load cost 40-300 ms each on the shared
2-core VM and sat between a tile's socket opening and its first frame (bench/web.py,
`first_frame_phases`). So the answer for a (user, session) is kept `TTL_S` and calls in flight
share one read. Every access change the recorder announces (recorder/accounts/revocation.py:
logout, a revoked session, a disabled user, changed rights, a removed camera) forgets every
entry at once, and an answer read while a change was announced is not kept: revocation through
the recorder still takes effect on the very next call. A change another process writes
(`skycam user`) is seen within `TTL_S` (sockets re-check every 30 s for those).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from recorder.accounts.model import Principal
from recorder.accounts.revocation import AccessChange
from recorder.clock import Clock
from recorder.shared_calls import SharedCalls

TTL_S = 2.0
MAX_ENTRIES = 1024  # sessions active within TTL_S: a handful on a site
SessionKey = tuple[int, str]  # (user id, session id)


class SessionCache:
    """Event loop only."""

    def __init__(self, clock: Clock, ttl_s: float = TTL_S, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[SessionKey, tuple[float, Principal]] = OrderedDict()
        self._reads: SharedCalls[SessionKey, Principal] = SharedCalls()
        self._generation = 0  # moves on every access change: answers read before are not kept

    def forget(self, _change: AccessChange | None = None) -> None:
        """Drop everything (an `AccessSignal` listener: any change may concern anyone). Reads
        under way are no longer shared: a call from now on reads what the change wrote."""
        self._entries.clear()
        self._reads.forget()
        self._generation += 1

    async def principal(
        self, key: SessionKey, read: Callable[[], Awaitable[Principal]]
    ) -> Principal:
        """The session's principal: remembered, being read by another call, or `read()`."""
        now = self._clock.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        generation = self._generation
        principal = await self._reads.run(key, read)
        if generation == self._generation:
            self._keep(key, now + self._ttl, principal)
        return principal

    def _keep(self, key: SessionKey, until: float, principal: Principal) -> None:
        self._entries[key] = (until, principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
