"""The PWA served by the local relay host at `/`, so an invitation link (`{relay}/#/join?...`)
opens the app remotely and it talks to the recorder through the relay.

Served as the recorder serves it (recorder/api/web.py): a path that is not a file gets
index.html (the app's router shows the view), the shell is never cached by the browser's HTTP
cache, Vite's hashed assets are immutable. Plus `/.well-known/skycam-relay` (JSON), what the
app needs to know about this relay and that tells it it was served by one (a recorder answers
its HTML shell there, without an error in the console): the WebSocket endpoint (another port
than the REST API, as API Gateway's WebSocket API is another endpoint) and the connection cap
the device rolls over before. Headers that keep the page from being
framed or sniffed, and its address out of Referer, because this page holds a cloud login.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from starlette.types import Send as StarletteSend

from .management import Receive, Send, respond

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
INFO_PATH = "/.well-known/skycam-relay"
NO_CACHE = ("index.html", "sw.js", "manifest.webmanifest", "registerSW.js")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _looks_like_a_file(path: str) -> bool:
    return "." in path.rsplit("/", 1)[-1]


class _Static(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or _looks_like_a_file(path):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and not _looks_like_a_file(path):
            response = await super().get_response("index.html", scope)
        name = path.rsplit("/", 1)[-1]
        if name in ("", "."):  # "/" (Starlette names it ".")
            name = path = "index.html"
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        elif name in NO_CACHE or not _looks_like_a_file(path):
            response.headers["Cache-Control"] = "no-cache"
        response.headers.update(SECURITY_HEADERS)
        return response


class RelayWeb:
    """ASGI app for every path that is not the REST API: the PWA and its relay information."""

    def __init__(self, directory: Path, websocket_url: str, max_connection_s: float) -> None:
        self._static = _Static(directory=directory, html=True)
        self._info = json.dumps(
            {"websocket": websocket_url, "max_connection_s": max_connection_s}
        ).encode()

    @staticmethod
    def available(directory: Path | None) -> bool:
        return directory is not None and (directory / "index.html").is_file()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == INFO_PATH:
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache")]
            headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await respond(send, 200, self._info, headers)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b'{"error":"bad_request","reason":"not an API path"}', [])
            return
        try:
            await self._static(scope, receive, cast(StarletteSend, send))
        except HTTPException as exc:  # a missing file: no Starlette app around to answer it
            await respond(send, exc.status_code, b'{"error":"not_found"}', [])
