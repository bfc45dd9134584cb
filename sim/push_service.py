"""A push service on loopback for tests and the bench (a simulator, like the cameras): it
records every request and answers what the test scripts (201 by default; 404, 410, 429 with
Retry-After, 500, or a dropped connection). It runs on its own thread and event loop, so sync
and async tests both use it.

Also a browser's side of a subscription: a P-256 key pair and auth secret, to decrypt what
arrives exactly as a browser would (http_ece, aes128gcm).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived


@dataclass
class Browser:
    """One subscription's private side."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def keys(self) -> dict[str, str]:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(public), "auth": b64url(self.auth)}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        result: dict[str, Any] = json.loads(plain)
        return result


class LocalPushService:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[tuple[int, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="push-service", daemon=True)
        self.port = 0

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def answer(self, name: str, *answers: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next requests to `name` with these statuses (then 201 again). Status 0
        drops the connection without an answer."""
        with self._lock:
            queue = self._script.setdefault(name, deque())
            for item in answers:
                queue.append(item if isinstance(item, tuple) else (item, {}))

    def to(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == f"/push/{name}"]

    def wait_for(self, name: str, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(name)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{len(self.to(name))} request(s) to {name}, expected {count}")

    async def until(self, name: str, count: int, within_s: float = 20) -> list[Received]:
        """`wait_for` for async tests: polls without blocking the event loop."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            found = self.to(name)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.to(name))} request(s) to {name}, expected {count}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await request.read()
        with self._lock:
            queue = self._script.get(name)
            status, headers = queue.popleft() if queue else (201, {})
            self.received.append(Received(request.path, dict(request.headers), body, time.time()))
        if status == 0:
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("dropped by the test")
        return web.Response(status=status, headers=headers)

    def _main(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            app = web.Application()
            app.router.add_post("/push/{name}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            self._stop = asyncio.Event()
            self._started.set()
            await self._stop.wait()
            await self._runner.cleanup()

        asyncio.run(body())

    def __enter__(self) -> LocalPushService:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("push service did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
