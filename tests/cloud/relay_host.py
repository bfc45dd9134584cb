"""Runs `skycam relay` as a real process on loopback for tests and benches, and speaks its
protocol as a recorder and as a device would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect

from cloud.local.process import RelayChild

from .relay_fixtures import RecorderKey

REPO = Path(__file__).resolve().parents[2]


class RelayProcess(RelayChild):
    """The product's relay child, on any free ports, its log kept for the test to read."""

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
        super().__init__(
            data_dir,
            ports,
            options=("--idle-timeout", str(idle_s), "--max-connection", str(max_s)),
            verbose=verbose,
            env={"PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=REPO,
            echo_log=False,
        )


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
