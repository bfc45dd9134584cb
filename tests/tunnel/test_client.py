"""The tunnel client against the in-memory relay: heartbeat, rollover, backoff, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from recorder.clock import SystemClock
from recorder.config import RelayConfig
from recorder.tunnel.client import TunnelClient
from recorder.tunnel.identity import RecorderIdentity
from recorder.tunnel.links import Json
from recorder.tunnel.memory_relay import MemoryRecorderDialer, MemoryRelay


async def until(fact: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not fact():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Running:
    def __init__(self, relay: MemoryRelay, client: TunnelClient, dialer: MemoryRecorderDialer):
        self.relay, self.client, self.dialer = relay, client, dialer

    def sent(self, kind: str) -> int:
        return sum(1 for m in self.relay.log if m.get("t") == kind)


@contextlib.asynccontextmanager
async def running_client(tmp_path: Path, **relay: float) -> AsyncIterator[Running]:
    memory = MemoryRelay()
    dialer = MemoryRecorderDialer(memory)
    received: list[Json] = []

    async def on_message(message: Json) -> None:
        received.append(message)

    client = TunnelClient(
        dialer,
        RecorderIdentity.load_or_create(tmp_path),
        RelayConfig(url="https://relay.test", backoff_cap_s=0.3, **relay),
        SystemClock(),
        on_message,
    )
    shutdown = asyncio.Event()
    task = asyncio.create_task(client.run(shutdown))
    try:
        await asyncio.wait_for(client.connected.wait(), 15)
        yield Running(memory, client, dialer)
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 15)  # stops on shutdown
    assert memory.connected(client.identity.rid) == 0  # and closes what it opened


async def test_the_heartbeat_keeps_an_idle_connection_talking(tmp_path: Path) -> None:
    async with running_client(tmp_path, heartbeat_s=1) as running:
        assert running.sent("hello") == 1
        await until(lambda: running.sent("ping") >= 2, 10)


async def test_a_rollover_opens_the_new_connection_before_closing_the_old(tmp_path: Path) -> None:
    async with running_client(tmp_path, connection_max_s=2, rollover_drain_s=0.5) as running:
        rid = running.client.identity.rid
        await until(lambda: running.relay.connected(rid) == 2, 10)  # make...
        await until(lambda: running.relay.connected(rid) == 1, 10)  # ...before break
        assert running.client.status.rollovers >= 1 and running.client.status.connected


async def test_it_comes_back_by_itself_after_the_relay_was_away(tmp_path: Path) -> None:
    async with running_client(tmp_path) as running:
        running.relay.stop()
        await until(lambda: not running.client.status.connected)
        dials = running.dialer.dials
        await until(lambda: running.dialer.dials >= dials + 2)  # refused, retried with backoff
        assert not running.client.status.connected
        running.relay.start()
        await until(lambda: running.client.status.connected, 10)
        assert running.client.status.last_error == "relay is down"
        assert running.client.status.connects == 2
