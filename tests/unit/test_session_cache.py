"""Authentication's short memory (api/session_cache.py): kept TTL_S of the recorder's clock,
shared by calls in flight, forgotten at once on any access change, bounded."""

from __future__ import annotations

import asyncio

import pytest

from recorder.accounts.model import Principal, Role
from recorder.accounts.revocation import AccessChange, AccessSignal, ChangeKind
from recorder.api.session_cache import TTL_S, SessionCache
from recorder.clock import FakeClock
from recorder.errors import NotAuthenticated


def principal(user_id: int, session: str, role: Role = Role.VIEWER) -> Principal:
    return Principal(user_id, f"user{user_id}", role, {}, session)


class Database:
    """Counts reads; answers what it holds now (a fake of the site database's answer)."""

    def __init__(self) -> None:
        self.reads = 0
        self.role = Role.VIEWER
        self.revoked = False
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def read(self) -> Principal:
        self.reads += 1
        self.reading.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.revoked:
            raise NotAuthenticated("session ended: log in again")
        return principal(1, "s1", self.role)


async def test_an_answer_is_kept_for_ttl_then_read_again() -> None:
    clock = FakeClock()
    cache, db = SessionCache(clock), Database()
    assert await cache.principal((1, "s1"), db.read) == principal(1, "s1")
    clock.advance(TTL_S - 0.1)
    assert await cache.principal((1, "s1"), db.read) == principal(1, "s1")
    assert db.reads == 1
    db.role = Role.ADMIN
    clock.advance(0.2)
    assert (await cache.principal((1, "s1"), db.read)).role is Role.ADMIN
    assert db.reads == 2


async def test_an_access_change_is_seen_by_the_next_call() -> None:
    clock, signal = FakeClock(), AccessSignal()
    cache, db = SessionCache(clock), Database()
    signal.subscribe(cache.forget)
    await cache.principal((1, "s1"), db.read)
    db.revoked = True
    signal.announce(AccessChange(ChangeKind.SESSION_ENDED, session_id="s1"))
    with pytest.raises(NotAuthenticated, match="session ended"):
        await cache.principal((1, "s1"), db.read)
    assert len(cache) == 0  # a refusal is never kept


async def test_calls_in_flight_share_one_read_and_a_read_overtaken_by_a_change_is_not_kept() -> (
    None
):
    clock = FakeClock()
    cache, db = SessionCache(clock), Database()
    db.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.principal((1, "s1"), db.read)) for _ in range(8)]
    await db.reading.wait()
    cache.forget()  # a change announced while the read was under way
    db.gate.set()
    assert await asyncio.gather(*calls) == [principal(1, "s1")] * 8
    assert db.reads == 1
    assert len(cache) == 0  # read before the change: not kept
    db.gate = None
    await cache.principal((1, "s1"), db.read)
    assert db.reads == 2 and len(cache) == 1


async def test_a_call_after_a_change_does_not_join_a_read_that_began_before_it() -> None:
    """The read under way may have seen the session open; a call made once the logout was
    announced must see it ended."""
    clock = FakeClock()
    cache, db = SessionCache(clock), Database()
    db.gate = asyncio.Event()
    before = asyncio.create_task(cache.principal((1, "s1"), db.read))
    await db.reading.wait()
    cache.forget()  # the logout is written and announced while that read waits
    gate, db.gate = db.gate, None
    db.revoked = True
    with pytest.raises(NotAuthenticated, match="session ended"):  # not stuck behind the gate
        await asyncio.wait_for(cache.principal((1, "s1"), db.read), 5)
    assert db.reads == 2
    db.revoked = False  # what the first read saw, from before the change
    gate.set()
    assert await before == principal(1, "s1")
    assert len(cache) == 0


async def test_other_sessions_are_other_entries_and_the_cache_is_bounded() -> None:
    cache = SessionCache(FakeClock(), max_entries=3)
    for n in range(5):

        async def read(n: int = n) -> Principal:
            return principal(n, f"s{n}")

        assert (await cache.principal((n, f"s{n}"), read)).user_id == n
    assert len(cache) == 3
