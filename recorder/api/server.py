"""Serving the API: HTTPS for the LAN, plain HTTP on loopback, both from one app.

Sockets are bound here (not by uvicorn) so port 0 works and the bound ports are known. The
recorder owns signal handling; uvicorn's own is switched off.

An idle server costs nothing: uvicorn's main loop wakes on a timer to refresh the `Date` header
and look for shutdown; with two servers, even once a second, that was most of an idle recorder's
0.0012 of a core. Here the loop only waits for `request_exit`, and `_DateHeader` stamps each
response as it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from recorder.api.tls import ensure_certificate
from recorder.config import ApiConfig
from recorder.errors import RecorderError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the recorder handles SIGINT/SIGTERM and stops us through `request_exit`

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once (`Server`; `Date` is ours)
        if not self.should_exit:
            await self._exit.wait()


_Message = MutableMapping[str, Any]
_Asgi = Callable[
    [_Message, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]],
    Awaitable[None],
]


class _DateHeader:
    """ASGI middleware: a `Date` header on every HTTP response (RFC 9110 asks it of servers with
    a clock), formatted at most once a second, when responses are sent rather than on a timer."""

    def __init__(self, app: _Asgi) -> None:
        self._app = app
        self._second = -1
        self._value = b""

    async def __call__(
        self,
        scope: _Message,
        receive: Callable[[], Awaitable[_Message]],
        send: Callable[[_Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_dated(message: _Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"date", self._date())]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_dated)

    def _date(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._value = formatdate(second, usegmt=True).encode()
            self._second = second
        return self._value


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then, and without it a response
    # written in two parts (headers, body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RecorderError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ApiServer:
    def __init__(self, app: FastAPI, config: ApiConfig, tls_dir: Path) -> None:
        self.app = app
        self._config = config
        self._tls_dir = tls_dir
        self.https_port: int | None = None
        self.http_port: int | None = None
        self.ready = asyncio.Event()

    async def run(self, shutdown: asyncio.Event) -> None:
        config = self._config
        servers: list[tuple[_Server, socket.socket]] = []
        app = _DateHeader(self.app)
        common = {
            "log_level": "warning",
            "access_log": False,
            "lifespan": "off",
            "ws": "websockets-sansio",
            "date_header": False,  # _DateHeader adds it without a timer
            # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, and every
            # local client (the relay tunnel, anything on the box) comes from there: only the
            # configured proxies are believed.
            "proxy_headers": bool(config.trusted_proxies),
            "forwarded_allow_ips": list(config.trusted_proxies),
        }
        if config.https:
            cert, key = await asyncio.to_thread(ensure_certificate, self._tls_dir)
            sock = _bind(config.https_host, config.https_port)
            self.https_port = sock.getsockname()[1]
            uconfig = uvicorn.Config(
                app,
                ssl_certfile=str(cert),
                ssl_keyfile=str(key),
                **common,  # type: ignore[arg-type]
            )
            servers.append((_Server(uconfig), sock))
        if config.http:
            sock = _bind(config.http_host, config.http_port)
            self.http_port = sock.getsockname()[1]
            servers.append((_Server(uvicorn.Config(app, **common)), sock))  # type: ignore[arg-type]
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        self.ready.set()
        try:
            stopper = asyncio.create_task(shutdown.wait())
            await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        finally:
            for server, _ in servers:
                server.request_exit()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _, sock in servers:
                sock.close()
