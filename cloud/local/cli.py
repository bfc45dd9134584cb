"""`skycam relay`: run the relay on this machine (the embedded default, or a small VPS)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from .websocket_host import Limits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path("data/relay"), help="./data/relay")
    parser.add_argument("--host", default="127.0.0.1", help="address of REST and WebSocket")
    parser.add_argument("--port", type=int, default=8700, help="REST API port (8700; 0: any)")
    parser.add_argument("--ws-port", type=int, default=8701, help="WebSocket port (8701; 0: any)")
    parser.add_argument(
        "--manage-port", type=int, default=8702, help="@connections API on 127.0.0.1 (8702)"
    )
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="seconds (600)")
    parser.add_argument(
        "--max-connection", type=float, default=7200.0, help="connection cap, seconds (7200)"
    )
    parser.add_argument("--open-signup", action="store_true", help="sign-up without invitation")
    parser.add_argument("--admin-email", default="admin@relay.local", help="the relay admin")
    parser.add_argument(
        "--public-url", default=None, help="REST URL devices reach (a proxy's); signed media URLs"
    )
    parser.add_argument(
        "--web-dir", type=Path, default=None, help="the PWA build served at / (web/dist)"
    )
    parser.add_argument("--no-web", action="store_true", help="do not serve the PWA")


def _announce(host: Any, urls: Any) -> None:
    print("SkyCam relay is running. Press Ctrl-C to stop.")
    print(f"  REST API             {urls.rest}/v1")
    print(f"  WebSocket            {urls.websocket}")
    if host.serves_web:
        print(f"  web app (remote)     {urls.rest}/")
    print(f"  @connections (local) {urls.manage}")
    if host.admin_password:
        print(f"  relay admin          {host.settings.admin_email} / {host.admin_password}")
        print("                       (shown once; it is not stored in clear)")
    print(f"  data                 {host.settings.data_dir}")  # last: scripts wait for it
    print(flush=True)


def run(args: argparse.Namespace) -> int:
    from ..chalicelib.privacy import quiet_payload_loggers
    from .host import HostSettings, LocalRelayHost
    from .web import WEB_DIST

    quiet_payload_loggers()  # again after `skycam -v` set the root logger to DEBUG
    settings = HostSettings(
        data_dir=args.data_dir,
        host=args.host,
        http_port=args.port,
        ws_port=args.ws_port,
        manage_port=args.manage_port,
        limits=Limits(idle_timeout_s=args.idle_timeout, max_connection_s=args.max_connection),
        open_signup=args.open_signup,
        admin_email=args.admin_email,
        public_url=args.public_url,
        web_dir=None if args.no_web else (args.web_dir or WEB_DIST),
    )

    async def main() -> None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, shutdown.set)
        await LocalRelayHost(settings).run(shutdown, _announce)

    asyncio.run(main())
    return 0
