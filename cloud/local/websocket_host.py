"""The WebSocket side of the local host: frames become API-Gateway-shaped events for the same
Chalice handlers ($connect, $default, $disconnect), with API Gateway's limits.

- text frames only: a binary message closes the connection with 1003;
- frames of at most 32 KB and messages of at most 128 KB (larger: closed with 1009);
- an idle timeout (no message from the client) and a maximum connection time, both closed
  with 1001 "going away";
- `$connect` answering other than 200 refuses the handshake with that status;
- every handler runs in the thread pool and no handler's answer is awaited by the client's
  next frame (one invocation per message, in no guaranteed order).

It is also the `ConnectionHub` behind the management API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(route key, event) -> the handler's answer; runs in a worker thread."""

FRAME_BYTES = 32 * 1024
MESSAGE_BYTES = 128 * 1024


@dataclass(frozen=True)
class Limits:
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    frame_bytes: int = FRAME_BYTES
    message_bytes: int = MESSAGE_BYTES


@dataclass
class LiveConnection:
    id: str
    ws: ServerConnection
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.monotonic)
    opened: float = field(default_factory=time.monotonic)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class WebSocketHost:
    def __init__(
        self, invoke: Invoke, executor: Executor, limits: Limits, domain: str, stage: str
    ) -> None:
        self._invoke = invoke
        self._executor = executor
        self._limits = limits
        self._domain = domain
        self._stage = stage
        self._admitted: dict[object, tuple[str, str, str]] = {}
        self._live: dict[str, LiveConnection] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._server: Server | None = None

    @property
    def connections(self) -> int:
        return len(self._live)

    async def start(self, host: str, port: int) -> int:
        self._server = await serve(
            self._serve,
            host,
            port,
            process_request=self._connect,
            max_size=(self._limits.message_bytes, self._limits.frame_bytes),
            compression=None,  # API Gateway negotiates no extension
            ping_interval=None,  # API Gateway's idle timer ignores protocol pings anyway
            max_queue=64,
        )
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _event(self, route: str, conn_id: str, source_ip: str, user_agent: str) -> dict[str, Any]:
        kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        return {
            "requestContext": {
                "routeKey": route,
                "eventType": kind,
                "connectionId": conn_id,
                "apiId": "local",
                "stage": self._stage,
                "domainName": self._domain,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            },
            "isBase64Encoded": False,
        }

    async def _call(self, route: str, event: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._invoke, route, event)
        except Exception:
            # A handler that raises is a 500 from API Gateway too; never log the event (it
            # carries tickets, signatures and sealed bodies).
            log.exception("%s handler failed", route)
            return {"statusCode": 500}

    async def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        conn_id = secrets.token_urlsafe(12)
        peer = connection.remote_address
        source_ip = str(peer[0]) if peer else "unknown"
        user_agent = request.headers.get("User-Agent", "")
        event = self._event("$connect", conn_id, source_ip, user_agent)
        query = dict(parse_qsl(urlsplit(request.path).query))
        event["queryStringParameters"] = query or None
        event["headers"] = {k: v for k, v in request.headers.raw_items() if k.lower() != "cookie"}
        answer = await self._call("$connect", event)
        status = int(answer.get("statusCode", 200))
        if status != 200:
            reason = str(answer.get("body") or HTTPStatus(status).phrase)
            return connection.respond(HTTPStatus(status), reason + "\n")
        self._admitted[connection] = (conn_id, source_ip, user_agent)
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        conn_id, source_ip, user_agent = self._admitted.pop(ws)
        live = LiveConnection(conn_id, ws, source_ip, user_agent)
        self._live[conn_id] = live
        watchdog = asyncio.create_task(self._watch(live))
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    await ws.close(1003, "binary frames are not supported")
                    break
                live.last_active = time.monotonic()
                event = self._event("$default", conn_id, source_ip, user_agent)
                event["body"] = message
                task = asyncio.ensure_future(self._call("$default", event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            self._live.pop(conn_id, None)
            await self._call(
                "$disconnect", self._event("$disconnect", conn_id, source_ip, user_agent)
            )

    async def _watch(self, live: LiveConnection) -> None:
        limits = self._limits
        while True:
            idle_at = live.last_active + limits.idle_timeout_s
            cap_at = live.opened + limits.max_connection_s
            now = time.monotonic()
            if now >= cap_at:
                await live.ws.close(1001, "connection time limit")
                return
            if now >= idle_at:
                await live.ws.close(1001, "idle timeout")
                return
            await asyncio.sleep(min(idle_at, cap_at) - now)

    # -- ConnectionHub (the management API) -------------------------------------------------

    async def post(self, conn_id: str, data: bytes) -> int:
        live = self._live.get(conn_id)
        if live is None:
            return 410
        if len(data) > self._limits.message_bytes:
            return 413
        try:
            text = data.decode()
        except UnicodeDecodeError:
            payload: str | bytes = data
        else:
            payload = text
        try:
            await live.ws.send(payload)
        except ConnectionClosed:
            return 410
        return 200

    def describe(self, conn_id: str) -> dict[str, Any] | None:
        live = self._live.get(conn_id)
        if live is None:
            return None
        last = live.connected_at + (live.last_active - live.opened)
        return {
            "ConnectedAt": _iso(live.connected_at),
            "LastActiveAt": _iso(last),
            "Identity": {"SourceIp": live.source_ip, "UserAgent": live.user_agent},
        }

    async def delete(self, conn_id: str) -> bool:
        live = self._live.get(conn_id)
        if live is None:
            return False
        with contextlib.suppress(ConnectionClosed):
            await live.ws.close(1000, "closed by the relay")
        return True
