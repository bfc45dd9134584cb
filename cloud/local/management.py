"""The `@connections` management API of API Gateway, served on loopback so that boto3's
`apigatewaymanagementapi` client (and so Chalice's `websocket_api.send`) works unchanged.

`POST /{stage}/@connections/{id}` sends, `GET` describes, `DELETE` closes; a connection that is
not open answers 410 GoneException, as API Gateway does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import boto3

_PATH = re.compile(r"^(?:/[^/@]+)?/@connections/([^/]+)$")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ConnectionHub(Protocol):
    async def post(self, conn_id: str, data: bytes) -> int:
        """Send to a connection; an HTTP status (200, 410 gone, 413 too large)."""

    def describe(self, conn_id: str) -> dict[str, Any] | None: ...

    async def delete(self, conn_id: str) -> bool: ...


async def read_body(receive: Receive, limit: int) -> bytes | None:
    body = b""
    while True:
        event = await receive()
        chunk: bytes = event.get("body", b"")
        body += chunk
        if len(body) > limit:
            return None
        if not event.get("more_body"):
            return body


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    base = [(b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": base})
    await send({"type": "http.response.body", "body": body})


def _error(kind: str, message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps({"message": message}).encode()
    return body, [(b"content-type", b"application/json"), (b"x-amzn-errortype", kind.encode())]


class ManagementApp:
    """ASGI app for the management API."""

    def __init__(self, hub: ConnectionHub, max_message_bytes: int) -> None:
        self._hub = hub
        self._max = max_message_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        match = _PATH.match(scope["path"])
        if match is None:
            body, headers = _error("NotFoundException", "no such route")
            await respond(send, 404, body, headers)
            return
        conn_id, method = unquote(match.group(1)), scope["method"]
        if method == "POST":
            data = await read_body(receive, self._max)
            status = 413 if data is None else await self._hub.post(conn_id, data)
            if status == 200:
                await respond(send, 200, b"", [])
            elif status == 413:
                body, headers = _error("PayloadTooLargeException", "message too large")
                await respond(send, 413, body, headers)
            else:
                body, headers = _error("GoneException", "connection gone")
                await respond(send, 410, body, headers)
        elif method == "GET":
            info = self._hub.describe(conn_id)
            if info is None:
                body, headers = _error("GoneException", "connection gone")
                await respond(send, 410, body, headers)
            else:
                await respond(
                    send, 200, json.dumps(info).encode(), [(b"content-type", b"application/json")]
                )
        elif method == "DELETE":
            if await self._hub.delete(conn_id):
                await respond(send, 204, b"", [])
            else:
                body, headers = _error("GoneException", "connection gone")
                await respond(send, 410, body, headers)
        else:
            body, headers = _error("BadRequestException", "method not allowed")
            await respond(send, 405, body, headers)


class LocalManagementSession(boto3.session.Session):  # type: ignore[misc]
    """A boto3 session whose `apigatewaymanagementapi` clients talk to the local host.

    Chalice builds its endpoint from the API id and region (`https://ID.execute-api...`); this
    keeps the stage path and swaps scheme and host for the loopback management URL. The
    management API checks no signature (it listens on loopback only), so the credentials
    here are placeholders, not secrets.
    """

    def __init__(self, manage_url: str) -> None:
        super().__init__(
            aws_access_key_id="local-relay", aws_secret_access_key="unused", region_name="us-east-1"
        )
        self._manage = urlsplit(manage_url)

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        endpoint = kwargs.get("endpoint_url")
        if service_name == "apigatewaymanagementapi" and endpoint:
            path = urlsplit(endpoint).path
            kwargs["endpoint_url"] = urlunsplit(
                (self._manage.scheme, self._manage.netloc, path, "", "")
            )
        return super().client(service_name, *args, **kwargs)
