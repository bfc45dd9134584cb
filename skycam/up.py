"""`skycam up`: the whole product on one machine, for demos and self-hosting trials.

Starts simulated cameras (with generated RTSP credentials, as real cameras have), writes a
recorder config for them, sets a fresh admin password, runs the recorder with its API and
prints where everything is and how to log in. The local relay (`skycam relay`) runs beside it as
a child process: the recorder dials it, an invitation link for the admin and a demo cloud account
are printed. The PWA joins here as it lands. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

SCENES = ("motion", "idle", "lights", "pattern")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=4, help="simulated cameras (default 4)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data/demo"), help="default ./data/demo"
    )
    parser.add_argument("--http-port", type=int, default=8080, help="loopback HTTP (8080)")
    parser.add_argument("--https-port", type=int, default=8443, help="LAN HTTPS (8443)")
    parser.add_argument(
        "--relay-port", type=int, default=8700, help="local relay REST (8700; +1 WS, +2 mgmt)"
    )
    parser.add_argument("--no-relay", action="store_true", help="do not run the local relay")


def write_config(
    path: Path,
    data_dir: Path,
    cameras: list[tuple[str, str, str, str, str]],
    extra: str = "",
) -> None:
    """A recorder TOML config; 0600, since it holds the cameras' passwords."""
    lines = [f'data_dir = "{data_dir}"', "", extra]
    for cam_id, main_url, sub_url, user, password in cameras:
        lines += ["[[cameras]]", f'id = "{cam_id}"', f'main_url = "{main_url}"']
        lines += [f'sub_url = "{sub_url}"']
        if user:
            lines += [f'username = "{user}"', f'password = "{password}"']
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines), encoding="utf-8")


async def _fresh_admin_password(data_dir: Path) -> str:
    from recorder.accounts.model import Role
    from recorder.accounts.passwords import generate_password
    from recorder.accounts.store import AccountStore
    from recorder.clock import SystemClock
    from recorder.site import Site
    from recorder.site_db import SiteDatabase

    password = generate_password()
    async with SiteDatabase(Site(data_dir).site_db) as db:
        accounts = AccountStore(db, SystemClock())
        admin = await accounts.find("admin")
        if admin is None:
            await accounts.create("admin", password, Role.ADMIN)
        else:
            await accounts.set_password(admin.id, password)
    return password


def run(args: argparse.Namespace) -> int:
    import secrets

    from recorder.site import Site
    from sim import CameraSpec

    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    specs = [
        CameraSpec(
            name=f"cam{i + 1}",
            scene=SCENES[i % len(SCENES)],
            audio=i == 0,
            user="admin",
            password=secrets.token_urlsafe(12),
        )
        for i in range(args.cameras)
    ]
    relay = None
    if not args.no_relay:
        from cloud.local.process import RelayChild

        port = args.relay_port
        relay = RelayChild(Site(data_dir).demo_relay, (port, port + 1, port + 2)).start()
    print("Preparing simulated cameras (scenes are encoded once, then cached)...", flush=True)
    try:
        _run_site(args, data_dir, specs, relay)
    finally:
        if relay is not None:
            relay.stop()
    return 0


def _run_site(args, data_dir, specs, relay) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import signal

    from recorder.config import load_config
    from recorder.service import Recorder
    from recorder.site import Site
    from sim import SimCluster

    with SimCluster(specs) as cluster:
        entries = []
        for spec in specs:
            camera = cluster.cameras[spec.name]
            main_url = camera.url("main", credentials=False)
            sub_url = camera.url("sub", credentials=False)
            entries.append((spec.name, main_url, sub_url, spec.user or "", spec.password or ""))
        config_path = Site(data_dir).demo_config
        api = f"[api]\nhttp_port = {args.http_port}\nhttps_port = {args.https_port}\n"
        if relay is not None:
            api += f'\n[relay]\nurl = "{relay.rest}"\nws_url = "{relay.ws}"\n'
        write_config(config_path, data_dir, entries, api)
        config = load_config(config_path)
        password = asyncio.run(_fresh_admin_password(data_dir))

        async def serve() -> None:
            shutdown = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, shutdown.set)
            recorder = Recorder(config)
            task = asyncio.create_task(recorder.run(shutdown))
            ready = asyncio.create_task(recorder.ready.wait())
            await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
            if recorder.ready.is_set():
                _announce(specs, entries, recorder, config_path, data_dir, password)
                if relay is not None:
                    await _pair_demo(recorder, relay)
            await task

        asyncio.run(serve())


async def _pair_demo(recorder, relay) -> None:  # type: ignore[no-untyped-def]
    """An invitation for the admin and a demo cloud account made from it, so a remote device
    can sign in and enroll at once; the relay admin's login when it was just created."""
    import asyncio
    import secrets
    import time
    from urllib.parse import parse_qs, urlsplit

    import httpx

    api = recorder.api
    admin = await api.context.accounts.find("admin")
    _, link = await api.tunnel.create_invitation(admin.id, "skycam up")
    inv = parse_qs(urlsplit(link).fragment.split("?", 1)[1])["inv"][0]
    email, password = f"demo-{secrets.token_hex(3)}@relay.local", secrets.token_urlsafe(12)
    body = {"email": email, "password": password, "invitation": inv}
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:  # until the recorder has registered the invitation
            if (await http.post(f"{relay.rest}/v1/accounts", json=body)).status_code == 201:
                break
            await asyncio.sleep(0.5)
        else:
            print("  (the demo cloud account could not be created: is the relay reachable?)")
            return
    print(f"  relay (remote)       {relay.rest}/v1   WebSocket {relay.ws}")
    print(f"  remote web app       {relay.rest}/   (the app through the relay, end-to-end sealed)")
    if relay.admin_password:
        print(f"  relay console login  admin@relay.local / {relay.admin_password}")
    print(f"  demo cloud account   {email} / {password}")
    print(f"  invitation (admin)   {link}\n", flush=True)


def _announce(specs, entries, recorder, config_path, data_dir, password) -> None:  # type: ignore[no-untyped-def]
    from recorder.site import Site

    server = recorder.api.server
    host = socket.gethostname()
    print("\nSkyCam is running. Press Ctrl-C to stop.\n")
    if server.http_port:
        print(f"  web app (this machine) http://127.0.0.1:{server.http_port}/")
    if server.https_port:
        print(f"  web app (LAN, HTTPS)   https://{host}:{server.https_port}/")
    if server.http_port:
        print(f"  API (this machine)   http://127.0.0.1:{server.http_port}/api/v1/docs")
    if server.https_port:
        print(f"  API (LAN, HTTPS)     https://{host}:{server.https_port}/api/v1/docs")
    print(f"  login                admin / {password}")
    for spec, entry in zip(specs, entries, strict=True):
        print(f"  camera {spec.name:<6} {spec.scene_spec.kind:<8} {entry[1]}")
    print(f"\n  recorder config      {config_path}")
    print(f"  recordings           {Site(data_dir).recordings}\n", flush=True)
