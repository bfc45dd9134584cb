"""The recorder's connection to the relay: dial out, keep one WebSocket, roll it over.

`TunnelClient.run` dials (challenge, signed connect) and serves the connection until shutdown;
when the relay is away it retries with full-jitter backoff (tenacity, via `Reconnector`). While
connected it sends an application heartbeat every `heartbeat_s` (the relay's idle limit does
not count protocol pings) and, before the relay's connection cap, opens a second connection,
sends everything on the new one and keeps reading the old one for `rollover_drain_s` so that
messages in flight are still delivered (make-before-break: no call is lost). Time comes from
the recorder's Clock; everything stops on the shutdown event.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from recorder.clock import Clock
from recorder.config import RelayConfig
from recorder.reconnect import Reconnector
from recorder.tunnel.errors import RelayRefused, RelayUnavailable, TunnelError
from recorder.tunnel.identity import RecorderIdentity
from recorder.tunnel.links import Json, RecorderDialer, RelayLink

log = logging.getLogger(__name__)
CONTROL_TIMEOUT_S = 10.0
ROUTED = frozenset({"open", "data", "close", "error"})


@dataclass
class RelayStatus:
    """What the LAN API shows (GET /api/v1/relay); nothing secret."""

    configured: bool
    rid: str
    connected: bool = False
    since_ms: int | None = None  # when the current connection opened (ms since 1970)
    last_error: str | None = None
    last_error_at_ms: int | None = None
    connects: int = 0
    rollovers: int = 0


@dataclass(eq=False)
class _Connection:
    link: RelayLink
    opened: float  # monotonic
    reader: asyncio.Task[None] | None = None
    sent_at: float = 0.0  # monotonic time of the last send


@dataclass
class TunnelClient:
    dialer: RecorderDialer
    identity: RecorderIdentity
    config: RelayConfig
    clock: Clock
    on_message: Callable[[Json], Awaitable[None]]
    on_connected: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())
    version: str = field(default_factory=lambda: _version())
    status: RelayStatus = field(init=False)
    _connections: list[_Connection] = field(default_factory=list)  # newest last
    _acks: dict[str, asyncio.Future[Json]] = field(default_factory=dict)
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    push_key: str | None = None  # the relay's VAPID public key (from its answer to hello)

    def __post_init__(self) -> None:
        self.status = RelayStatus(configured=True, rid=self.identity.rid)

    # -- sending -----------------------------------------------------------------------------

    async def send(self, message: Json) -> None:
        if not self._connections:
            raise RelayUnavailable("not connected to the relay")
        connection = self._connections[-1]
        connection.sent_at = self.clock.monotonic()
        await connection.link.send(message)

    async def request(self, message: Json, timeout_s: float = CONTROL_TIMEOUT_S) -> Json:
        """Send `message` with a fresh "ref" and return the relay's answer that carries it
        ("ok", "pushed" or "error"); RelayUnavailable when not connected or not answered."""
        ref = f"r{next(self._refs)}"
        ack: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._acks[ref] = ack
        try:
            await self.send({**message, "ref": ref})
            return await asyncio.wait_for(ack, timeout_s)
        except TimeoutError as exc:
            raise RelayUnavailable(f"the relay did not answer {message['t']!r}") from exc
        finally:
            self._acks.pop(ref, None)

    async def control(self, message: Json) -> Json:
        answer = await self.request(message)
        if answer.get("t") == "error":
            raise RelayRefused(str(answer.get("code")), str(answer.get("reason")))
        return answer

    @property
    def is_connected(self) -> bool:
        return self.status.connected

    # -- running -----------------------------------------------------------------------------

    async def run(self, shutdown: asyncio.Event) -> None:
        reconnector = Reconnector(
            self.clock,
            self._failed,
            backoff_cap_s=self.config.backoff_cap_s,
            backoff_multiplier_s=min(0.5, self.config.backoff_cap_s),
            healthy_s=min(10.0, self.config.connection_max_s),
        )
        try:
            await reconnector.run(shutdown, self._serve)
        finally:
            for connection in self._connections:
                await self._drop(connection)
            self._connections.clear()
            for task in list(self._handlers):
                task.cancel()

    def _failed(self, exc: BaseException) -> None:
        self.status.last_error = str(exc) or type(exc).__name__
        self.status.last_error_at_ms = int(self.clock.now() * 1000)
        log.warning("relay: %s (retrying)", self.status.last_error)

    async def _open(self) -> _Connection:
        link = await asyncio.wait_for(
            self.dialer.dial(self.identity), self.config.connect_timeout_s
        )
        connection = _Connection(link, self.clock.monotonic())
        connection.reader = asyncio.create_task(self._read(connection), name="relay-reader")
        self._connections.append(connection)
        self.status.connects += 1
        welcome = await self.control({"t": "hello", "version": self.version})
        key = welcome.get("push_key")
        if isinstance(key, str) and 0 < len(key) <= 128:
            self.push_key = key  # the relay's VAPID key: browsers subscribe with it
        return connection

    async def _serve(self, shutdown: asyncio.Event) -> None:
        """One connected period: until shutdown (return) or the link fails (raise)."""
        try:
            current = await self._open()
        except TimeoutError as exc:
            raise RelayUnavailable("the relay did not answer in time") from exc
        self._up()
        await self.on_connected()
        stopper = asyncio.create_task(shutdown.wait())
        try:
            while not shutdown.is_set():
                assert current.reader is not None
                now = self.clock.monotonic()
                roll_at = current.opened + self.config.connection_max_s
                beat_at = max(current.sent_at, current.opened) + self.config.heartbeat_s
                timeout = max(0.0, min(roll_at, beat_at) - now)
                await asyncio.wait(
                    [stopper, current.reader], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if shutdown.is_set():
                    return
                if current.reader.done():
                    self._down()
                    raise RelayUnavailable(_reason(current.reader))
                now = self.clock.monotonic()
                if now >= roll_at:
                    current = await self._roll_over(current)
                elif now >= beat_at:
                    await self.send({"t": "ping"})
        finally:
            stopper.cancel()
            self._down()
            for connection in list(self._connections):
                await self._drop(connection)
            self._connections.clear()

    async def _roll_over(self, old: _Connection) -> _Connection:
        try:
            new = await self._open()
        except (TunnelError, TimeoutError) as exc:
            self._failed(exc)
            # Keep the old connection; try again in a while (the cap is minutes away).
            old.opened = self.clock.monotonic() - self.config.connection_max_s + 1
            return old
        self.status.rollovers += 1
        self.status.since_ms = int(self.clock.now() * 1000)
        log.info("relay: rolled over to a new connection")
        task = asyncio.create_task(self._retire(old))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        return new

    async def _retire(self, old: _Connection) -> None:
        await self.clock.sleep(self.config.rollover_drain_s)
        await self._drop(old)
        with contextlib.suppress(ValueError):
            self._connections.remove(old)

    async def _drop(self, connection: _Connection) -> None:
        with contextlib.suppress(Exception):
            await connection.link.close()
        if connection.reader is not None:
            connection.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connection.reader

    async def _read(self, connection: _Connection) -> None:
        while True:
            message = await connection.link.receive()  # RelayUnavailable ends the reader
            kind = message.get("t")
            if kind in ("ok", "error", "pushed") and message.get("ref") in self._acks:
                ack = self._acks[str(message["ref"])]
                if not ack.done():
                    ack.set_result(message)
            elif kind in ROUTED:
                # Each session's messages are handled in the order they arrived.
                await self._handle(message)

    async def _handle(self, message: Json) -> None:
        try:
            await self.on_message(message)
        except Exception:
            log.exception("tunnel: handling a %r message failed", message.get("t"))

    def _up(self) -> None:
        self.status.connected = True
        self.status.since_ms = int(self.clock.now() * 1000)
        self.connected.set()
        log.info("relay: connected as %s", self.identity.rid)

    def _down(self) -> None:
        if self.status.connected:
            log.warning("relay: disconnected")
        self.status.connected = False
        self.connected.clear()
        # Nothing will answer what was asked on the lost connection: say so now rather than
        # at each request's timeout (a push then goes to the outbox at once).
        for ack in self._acks.values():
            if not ack.done():
                ack.set_exception(RelayUnavailable("the relay connection was lost"))


def _reason(reader: asyncio.Task[None]) -> str:
    if reader.cancelled():
        return "relay connection closed"
    exc = reader.exception()
    return str(exc) if exc else "relay connection closed"


def _version() -> str:
    try:
        return importlib.metadata.version("skycam")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


async def _nothing() -> None:
    return None
