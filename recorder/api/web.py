"""The PWA's static build at / (public, like any login page; the API stays behind auth).

A single-page app: a path that is not a file (`/camera/cam1`, a reload on any view) gets
index.html, and the app's router shows the view. The shell (index.html, the service worker, the
manifest) is never cached by the browser's HTTP cache, so a new build reaches users at once;
Vite's hashed assets are immutable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

NO_CACHE = ("index.html", "sw.js", "manifest.webmanifest", "registerSW.js")


class WebApp(StaticFiles):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or _looks_like_a_file(path) or path.startswith("api"):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and not _looks_like_a_file(path):
            response = await super().get_response("index.html", scope)
        _cache_headers(path, response)
        return response


def _looks_like_a_file(path: str) -> bool:
    return "." in path.rsplit("/", 1)[-1]


def _cache_headers(path: str, response: Any) -> None:
    name = path.rsplit("/", 1)[-1]
    if name in ("", "."):  # "/" itself (Starlette names it "."): index.html, not a file name
        name = path = "index.html"
    if path.startswith("assets/"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    elif name in NO_CACHE or not _looks_like_a_file(path):
        response.headers["Cache-Control"] = "no-cache"
