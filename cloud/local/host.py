"""`LocalRelayHost`: the Chalice app of cloud/app.py served on one machine.

Three listeners: the REST API (uvicorn + Chalice's LocalGateway), the WebSocket API (the
`websockets` library, API Gateway's limits) and the `@connections` management API (loopback
only; the handlers reach it through boto3, exactly as on AWS). Storage is SQLite and files in
the data directory; the token-signing key is generated there (0600) on first start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from ..chalicelib.clock import SystemClock
from ..chalicelib.config import PREFIX, load_config
from ..chalicelib.errors import RelayError
from ..chalicelib.media.expiry import ExpiryRule
from ..chalicelib.media.keys import MEDIA_PREFIX, THUMBNAILS_PREFIX
from ..chalicelib.storage.local_objects import LocalObjectStore
from ..chalicelib.storage.sqlite_items import SqliteItemStore
from ..chalicelib.tunnel.sender import ChaliceSender
from ..chalicelib.wiring import Relay, build_relay, local_media_storage
from .management import LocalManagementSession, ManagementApp
from .rest import RestApp
from .web import WEB_DIST, RelayWeb
from .websocket_host import Limits, WebSocketHost

log = logging.getLogger(__name__)

STAGE = "local"
SWEEP_S = 600.0
OBJECT_SWEEP_S = 60.0
UPLOAD_FORM_OVERHEAD = 64 * 1024  # the form's other fields and boundaries


@dataclass(frozen=True)
class HostSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    http_port: int = 8700
    ws_port: int = 8701
    manage_port: int = 8702
    """Bound to 127.0.0.1 whatever `host` is: it sends to any connection unauthenticated."""
    limits: Limits = field(default_factory=Limits)
    workers: int = 16
    open_signup: bool = False
    admin_email: str = "admin@relay.local"
    public_url: str | None = None
    """The REST URL devices and recorders reach (a TLS reverse proxy's); default: the REST
    listener's own. Signed media URLs name it."""
    web_dir: Path | None = WEB_DIST
    """The PWA's build, served at / (None, or no index.html in it: not served)."""


@dataclass(frozen=True)
class HostUrls:
    rest: str
    websocket: str
    manage: str


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class _Uvicorn:
    """uvicorn on a socket we bound, started and stopped inside our loop. `Server.serve()`
    would capture SIGINT/SIGTERM for itself; this runs its steps (the lifespan it creates,
    startup, the tick loop, shutdown) without that, so the host owns its signals."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_keep_alive=30,
        )
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        self._sock = sock
        self._ticking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._server.startup(sockets=[self._sock])
        self._ticking = asyncio.create_task(self._server.main_loop())

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._ticking is not None:
            await self._ticking
        await self._server.shutdown(sockets=[self._sock])


def _submit_all(pool: ThreadPoolExecutor, jobs: Sequence[Callable[[], None]]) -> None:
    for job in jobs:
        pool.submit(job)


class LocalRelayHost:
    def __init__(self, settings: HostSettings) -> None:
        self.settings = settings
        self.relay: Relay | None = None
        self.admin_password: str | None = None
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="relay-handler")
        self._push_pool: ThreadPoolExecutor | None = None
        self._servers: list[_Uvicorn] = []
        self._ws: WebSocketHost | None = None
        self._objects: LocalObjectStore | None = None

    async def start(self) -> HostUrls:
        from .. import app as chalice_app

        s = self.settings
        data = s.data_dir.resolve()
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}
        env |= {f"{PREFIX}STORAGE": "local", f"{PREFIX}DATA_DIR": str(data)}
        if s.open_signup:
            env[f"{PREFIX}OPEN_SIGNUP"] = "true"
        config = load_config(env)

        manage_sock = _bind("127.0.0.1", s.manage_port)
        rest_sock = _bind(s.host, s.http_port)
        manage_url = f"http://127.0.0.1:{manage_sock.getsockname()[1]}"
        rest_host = f"[{s.host}]" if ":" in s.host else s.host
        rest_url = f"http://{rest_host}:{rest_sock.getsockname()[1]}"

        chalice_app.app.websocket_api.session = LocalManagementSession(manage_url)
        # Handlers configure the endpoint from their first event; sends before any (the
        # restart clean-up below) need it now. The session maps it to the loopback URL.
        chalice_app.app.websocket_api.configure_from_api_id("local", STAGE)
        # Signed object and upload URLs name the address devices and recorders reach: this
        # host's REST port, or the public URL of a reverse proxy in front of it.
        objects, uploads = local_media_storage(data, s.public_url or rest_url, SystemClock())
        self._objects = objects
        # Web Push deliveries run on a pool of their own: a slow push service (or its backoff)
        # never holds up a tunnel message (what SQS and a worker would do in AWS).
        pool = ThreadPoolExecutor(config.push_workers, thread_name_prefix="relay-push")
        self._push_pool = pool
        self.relay = build_relay(
            config,
            ChaliceSender(chalice_app.app.websocket_api),
            objects=objects,
            uploads=uploads,
            push_runner=functools.partial(_submit_all, pool),
        )
        chalice_app.install_relay(self.relay)
        self.admin_password = self.relay.accounts.ensure_admin(s.admin_email)
        handlers = chalice_app.app.websocket_handlers

        def invoke(route: str, event: dict[str, Any]) -> dict[str, Any]:
            answer: dict[str, Any] = chalice_app.app.handler_map[handlers[route].name](event, None)
            return answer

        self._ws = WebSocketHost(invoke, self._executor, s.limits, manage_url.split("//")[1], STAGE)
        manage = _Uvicorn(ManagementApp(self._ws, s.limits.message_bytes), manage_sock)
        await manage.start()
        self._servers.append(manage)
        # No connection survives a restart of this process: forget those the store lists.
        loop = asyncio.get_running_loop()
        stale = await loop.run_in_executor(self._executor, self.relay.router.disconnect_all)
        if stale:
            log.info("forgot %d connections from before the restart", stale)
        rest_app = RestApp(
            chalice_app.app,
            self._executor,
            objects,
            uploads,
            max_upload=config.media_object_max_bytes + UPLOAD_FORM_OVERHEAD,
        )
        rest = _Uvicorn(rest_app, rest_sock)
        await rest.start()
        self._servers.append(rest)
        ws_port = await self._ws.start(s.host, s.ws_port)
        ws_url = f"ws://{rest_host}:{ws_port}"
        if RelayWeb.available(s.web_dir):
            assert s.web_dir is not None
            rest_app.web = RelayWeb(s.web_dir, ws_url, s.limits.max_connection_s)
        return HostUrls(rest=rest_url, websocket=ws_url, manage=manage_url)

    @property
    def serves_web(self) -> bool:
        return RelayWeb.available(self.settings.web_dir)

    @property
    def connections(self) -> int:
        return 0 if self._ws is None else self._ws.connections

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.stop()
        for server in reversed(self._servers):
            await server.stop()
        self._servers.clear()
        if self._push_pool is not None:
            self._push_pool.shutdown(wait=True, cancel_futures=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def run(self, shutdown: asyncio.Event, announce: Any = None) -> None:
        urls = await self.start()
        if announce is not None:
            announce(self, urls)
        sweepers = [
            asyncio.create_task(self._sweep_expired(shutdown)),
            asyncio.create_task(self._sweep_objects(shutdown)),
        ]
        try:
            await shutdown.wait()
        finally:
            for sweeper in sweepers:
                sweeper.cancel()
            await self.stop()

    async def _sweep_objects(self, shutdown: asyncio.Event) -> None:
        """What the media bucket's lifecycle rules do in AWS: media session objects and event
        thumbnails are deleted once past their age."""
        if self._objects is None or self.relay is None:
            return
        config = self.relay.config
        rules = (
            ExpiryRule(MEDIA_PREFIX, config.media_keep_s),
            ExpiryRule(THUMBNAILS_PREFIX, config.thumbnail_keep_s),
        )
        loop = asyncio.get_running_loop()
        while not shutdown.is_set():
            try:
                removed = await loop.run_in_executor(self._executor, self._objects.expire, rules)
            except RelayError as exc:
                log.warning("object sweep: %s", exc)
            else:
                if removed:
                    log.debug("removed %d expired objects", removed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), OBJECT_SWEEP_S)

    async def _sweep_expired(self, shutdown: asyncio.Event) -> None:
        """What DynamoDB's TTL does in AWS: drop expired rows now and then (reads already
        ignore them; this only keeps the file small)."""
        items = self.relay.items if self.relay is not None else None
        if not isinstance(items, SqliteItemStore):
            return
        loop = asyncio.get_running_loop()
        while not shutdown.is_set():
            removed = await loop.run_in_executor(self._executor, items.purge_expired)
            if removed:
                log.debug("removed %d expired rows", removed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), SWEEP_S)
