"""Concurrent calls for one key share one run (recorder/shared_calls.py): its value or its
error reaches every waiter, a waiter giving up cancels nothing, forget() stops the sharing."""

from __future__ import annotations

import asyncio

import pytest

from recorder.shared_calls import SharedCalls


class Work:
    def __init__(self) -> None:
        self.runs = 0
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self) -> int:
        self.runs += 1
        self.started.set()
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.runs


async def test_callers_of_one_key_share_a_run_and_other_keys_run_their_own() -> None:
    calls, work, other = SharedCalls[str, int](), Work(), Work()
    waiting = [asyncio.create_task(calls.run("a", work)) for _ in range(5)]
    elsewhere = asyncio.create_task(calls.run("b", other))
    await work.started.wait()
    await other.started.wait()
    work.gate.set()
    other.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 5 and await elsewhere == 1
    assert work.runs == 1 and len(calls) == 0
    work.gate = asyncio.Event()
    work.gate.set()
    assert await calls.run("a", work) == 2  # a run once finished is not remembered


async def test_an_error_reaches_every_waiter_and_a_waiter_giving_up_cancels_nothing() -> None:
    calls, work = SharedCalls[str, int](), Work()
    first = asyncio.create_task(calls.run("a", work))
    await work.started.wait()
    quitter = asyncio.create_task(calls.run("a", work))
    stayer = asyncio.create_task(calls.run("a", work))
    await asyncio.sleep(0)
    quitter.cancel()
    work.fail = ValueError("the file is truncated")
    work.gate.set()
    for task in (first, stayer):
        with pytest.raises(ValueError, match="truncated"):
            await task
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert work.runs == 1


async def test_after_forget_a_caller_runs_its_own_and_the_old_run_ends_quietly() -> None:
    calls, old, new = SharedCalls[str, int](), Work(), Work()
    before = asyncio.create_task(calls.run("a", old))
    await old.started.wait()
    calls.forget()
    new.gate.set()
    assert await asyncio.wait_for(calls.run("a", new), 5) == 1  # not stuck behind `old`
    follower = asyncio.create_task(calls.run("a", new))  # `new` is done: a fresh run
    old.gate.set()
    assert await before == 1 and await follower == 2
    assert len(calls) == 0
