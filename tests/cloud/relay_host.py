"""Runs `skycam relay` as a real process on loopback for tests and benches, and speaks its
protocol as a recorder and as a device would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect

from .relay_fixtures import RecorderKey

REPO = Path(__file__).resolve().parents[2]


class RelayProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        idle_s: float = 600,
        max_s: float = 7200,
        ports: tuple[int, int, int] = (0, 0, 0),
        verbose: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.idle_s, self.max_s = idle_s, max_s
        self.ports = ports
        self.verbose = verbose
        self.env = env or {}
        self.output: list[str] = []
        self.rest = self.ws = self.manage = ""
        self.admin_password: str | None = None
        self._proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 60) -> RelayProcess:
        cmd = [sys.executable, "-m", "skycam.cli"] + (["-v"] if self.verbose else [])
        cmd += ["relay", "--data-dir", str(self.data_dir), "--port", str(self.ports[0])]
        cmd += ["--ws-port", str(self.ports[1]), "--manage-port", str(self.ports[2])]
        cmd += ["--idle-timeout", str(self.idle_s), "--max-connection", str(self.max_s)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self._proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        ready = threading.Event()

        def read() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.output.append(line)
                words = line.split()
                if line.startswith("  REST API"):
                    self.rest = words[-1].removesuffix("/v1")
                elif line.startswith("  WebSocket"):
                    self.ws = words[-1]
                elif line.startswith("  @connections"):
                    self.manage = words[-1]
                elif line.startswith("  relay admin"):
                    self.admin_password = words[-1]
                elif line.startswith("  data"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("relay did not start:\n" + "".join(self.output))
        self.ports = tuple(int(u.rsplit(":", 1)[1]) for u in (self.rest, self.ws, self.manage))  # type: ignore[assignment]
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def logs(self) -> str:
        return "".join(self.output)


class RelayClient:
    """REST calls to the relay (accounts, challenges, tickets, console)."""

    def __init__(self, relay: RelayProcess) -> None:
        self.relay = relay
        self.http = httpx.Client(base_url=relay.rest, timeout=30)

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(path, json=body, headers=headers)

    def get(self, path: str, token: str) -> httpx.Response:
        return self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    def signup_login(self, email: str, invitation: str) -> dict[str, Any]:
        body = {"email": email, "password": "correct horse battery", "invitation": invitation}
        reply = self.post("/v1/accounts", body)
        assert reply.status_code == 201, reply.text
        reply = self.post("/v1/auth/login", {"email": email, "password": body["password"]})
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def admin_token(self) -> str:
        assert self.relay.admin_password
        reply = self.post(
            "/v1/auth/login", {"email": "admin@relay.local", "password": self.relay.admin_password}
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    def recorder_url(self, key: RecorderKey) -> str:
        reply = self.post("/v1/recorders/challenge", {"recorder_id": key.rid})
        assert reply.status_code == 200, reply.text
        return f"{self.relay.ws}/?{urlencode(key.connect_query(reply.json()['nonce']))}"

    def device_url(self, token: str) -> str:
        reply = self.post("/v1/tickets", {}, token)
        assert reply.status_code == 200, reply.text
        return f"{self.relay.ws}/?{urlencode({'role': 'device', 'ticket': reply.json()['ticket']})}"


async def open_ws(url: str) -> ClientConnection:
    return await connect(url, max_size=None, ping_interval=None, open_timeout=30)


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, within: float = 20) -> dict[str, Any]:
    import asyncio

    text = await asyncio.wait_for(ws.recv(), within)
    return dict(json.loads(text))


async def receive_until(ws: ClientConnection, kind: str, within: float = 20) -> dict[str, Any]:
    """The next message of type `kind` (others, such as acks, are skipped)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await receive(ws, max(left, 0.01))
        if message.get("t") == kind:
            return message
