"""REST through Chalice's own `LocalGateway` (route matching, the same event shape as API
Gateway's REST API), wrapped in a small ASGI app so uvicorn serves it. Handlers run in the
host's thread pool, as Lambda runs invocations side by side. Also serves presigned local
object URLs (`/objects/KEY?exp=&sig=`), signed uploads (`POST /uploads`, uploads.py) and,
outside those and /v1/, the PWA (web.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qs, unquote

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException

from ..chalicelib.errors import RelayError
from ..chalicelib.media.uploads import LocalUploadSigner
from ..chalicelib.storage.local_objects import LocalObjectStore
from .management import Receive, Scope, Send, read_body, respond
from .uploads import accept_upload
from .web import RelayWeb

PEER_HEADER = "x-skycam-peer"
MAX_BODY = 1024 * 1024


class PeerAwareGateway(LocalGateway):
    """LocalGateway reports every caller as 127.0.0.1; the login throttle needs the real peer,
    which the ASGI layer passes in a header of its own (any client-sent copy is dropped)."""

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: Any) -> Any:
        peer = headers.pop(PEER_HEADER, None)
        event = super()._generate_lambda_event(method, path, headers, body)
        if peer:
            event["requestContext"]["identity"]["sourceIp"] = peer
        return event


class RestApp:
    def __init__(
        self,
        app: Chalice,
        executor: Executor,
        objects: LocalObjectStore,
        uploads: LocalUploadSigner,
        max_upload: int,
    ) -> None:
        self._gateway = PeerAwareGateway(app, Config(chalice_stage="local"))
        self._executor = executor
        self._objects = objects
        self._uploads = uploads
        self._max_upload = max_upload
        self.web: RelayWeb | None = None  # set once the WebSocket endpoint is known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/uploads" and scope["method"] == "POST":
            await self._upload(scope, receive, send)
            return
        if self.web is not None and not path.startswith(("/v1/", "/objects/")):
            await self.web(scope, receive, send)
            return
        body = await read_body(receive, MAX_BODY)
        if body is None:
            await respond(send, 413, b'{"error":"bad_request","reason":"body too large"}', [])
            return
        if scope["path"].startswith("/objects/"):
            await self._object(scope, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            if key != PEER_HEADER:
                headers[key] = value.decode("latin-1")
        client = scope.get("client")
        headers[PEER_HEADER] = client[0] if client else "unknown"
        path = scope["path"]
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(
                self._executor,
                self._gateway.handle_request,
                scope["method"],
                path,
                headers,
                body or None,
            )
        except LocalGatewayException as exc:
            await respond(send, exc.CODE, exc.body or b"", [(b"content-type", b"application/json")])
            return
        out = reply.get("body") or b""
        if isinstance(out, str):
            out = out.encode()
        pairs = [
            (k.lower().encode(), str(v).encode()) for k, v in (reply.get("headers") or {}).items()
        ]
        for k, values in (reply.get("multiValueHeaders") or {}).items():
            pairs += [(k.lower().encode(), str(v).encode()) for v in values]
        pairs = [p for p in pairs if p[0] != b"content-length"]
        await respond(send, int(reply["statusCode"]), out, pairs)

    async def _object(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        key = unquote(scope["path"].removeprefix("/objects/"))
        try:
            data = self._objects.open_signed(key, int(query["exp"][0]), query["sig"][0])
        except (KeyError, ValueError):
            await respond(send, 400, b'{"error":"bad_request","reason":"exp and sig needed"}', [])
            return
        except RelayError as exc:
            await respond(send, exc.status, f'{{"error":"{exc.code}"}}'.encode(), [])
            return
        await respond(send, 200, data, [(b"content-type", b"application/octet-stream")])

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, self._max_upload)
        if body is None:
            await respond(send, 413, b'{"error":"bad_request","reason":"upload too large"}', [])
            return
        content_type = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"content-type"), ""
        )
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._executor, accept_upload, self._uploads, self._objects, content_type, body
            )
        except RelayError as exc:
            reason = exc.reason.replace('"', "'")
            answer = f'{{"error":"{exc.code}","reason":"{reason}"}}'.encode()
            await respond(send, exc.status, answer, [(b"content-type", b"application/json")])
            return
        await respond(send, 204, b"", [])
