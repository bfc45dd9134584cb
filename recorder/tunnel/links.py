"""The boundary with the relay: a `RelayLink` carries protocol messages (JSON objects) one way
and the other; a `RecorderDialer` opens one for the recorder (challenge, signed connect).

`WebSocketDialer` is the real adapter (REST challenge with httpx, then a `websockets` client);
`recorder.tunnel.memory_relay` holds the in-memory relay and its dialers that tests use beside it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from recorder.tunnel.errors import RelayRefused, RelayUnavailable
from recorder.tunnel.identity import RecorderIdentity, b64url

MAX_FRAME = 32 * 1024  # API Gateway's frame size: the relay closes a connection over it
PROTOCOL_VERSION = "1"

Json = dict[str, Any]


class RelayLink(Protocol):
    async def send(self, message: Json) -> None:
        """Send one message; raises RelayUnavailable once the link is down."""

    async def receive(self) -> Json:
        """The next message; raises RelayUnavailable once the link is down."""

    async def close(self) -> None:
        """Close the link (idempotent)."""


class RecorderDialer(Protocol):
    async def dial(self, identity: RecorderIdentity) -> RelayLink:
        """Authenticate as `identity` and open a recorder connection (RelayUnavailable if not)."""


def encode(message: Json) -> str:
    text = json.dumps(message, separators=(",", ":"))
    if len(text.encode()) > MAX_FRAME:
        raise ValueError(f"a {message.get('t')!r} message of {len(text)} bytes is over one frame")
    return text


def decode(text: str | bytes) -> Json:
    if isinstance(text, bytes):
        raise RelayUnavailable("the relay sent a binary frame")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RelayUnavailable("the relay sent something that is not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise RelayUnavailable("the relay sent a message without a type")
    return message


class WebSocketLink:
    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    async def send(self, message: Json) -> None:
        try:
            await self._connection.send(encode(message))
        except websockets.ConnectionClosed as exc:
            raise RelayUnavailable(f"relay connection closed: {exc}") from exc

    async def receive(self) -> Json:
        try:
            return decode(await self._connection.recv())
        except websockets.ConnectionClosed as exc:
            raise RelayUnavailable(f"relay connection closed: {exc}") from exc

    async def close(self) -> None:
        await self._connection.close()


def websocket_url(relay_url: str) -> str:
    """The relay's WebSocket endpoint by default: same host, ws(s) scheme, path + "/ws"."""
    parts = urlsplit(relay_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


async def open_websocket(url: str, timeout_s: float) -> WebSocketLink:
    try:
        connection = await connect(
            url, open_timeout=timeout_s, ping_interval=None, max_size=256 * 1024
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
        raise RelayUnavailable(f"cannot open the relay WebSocket: {exc}") from exc
    return WebSocketLink(connection)


class WebSocketDialer:
    """The real recorder dialer: POST the challenge, sign it, open the WebSocket."""

    def __init__(self, relay_url: str, ws_url: str | None = None, timeout_s: float = 10) -> None:
        self._relay_url = relay_url.rstrip("/")
        self._ws_url = ws_url or websocket_url(relay_url)
        self._timeout_s = timeout_s

    async def dial(self, identity: RecorderIdentity) -> RelayLink:
        rid = identity.rid
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as http:
                response = await http.post(
                    f"{self._relay_url}/v1/recorders/challenge", json={"recorder_id": rid}
                )
        except httpx.HTTPError as exc:
            raise RelayUnavailable(f"relay challenge failed: {exc}") from exc
        if response.status_code != 200:
            raise RelayRefused(str(response.status_code), response.text[:200])
        try:
            nonce = str(response.json()["nonce"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RelayUnavailable("relay challenge answer has no nonce") from exc
        query = urlencode(
            {
                "role": "recorder",
                "rid": rid,
                "pk": b64url(identity.signing_public),
                "nonce": nonce,
                "sig": identity.sign_connect(nonce),
                "v": PROTOCOL_VERSION,
            }
        )
        return await open_websocket(f"{self._ws_url}?{query}", self._timeout_s)
