"""The benchmark's API client: httpx over loopback HTTP, one kept-alive connection, timed calls.

Times are wall time on the client side (`time.perf_counter`), from sending the request to having
read the whole body: what a browser on the LAN would wait, minus the network.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from recorder.accounts.bootstrap import FIRST_ADMIN

TIMEOUT_S = 60.0


class ApiError(RuntimeError):
    pass


class ApiClient:
    """`fresh_connections`: a new TCP connection per request (`Connection: close`) instead of
    one kept alive as browsers do; it shows the server's time without the TCP acknowledgement
    stalls a kept-alive connection may add (docs/ref/bench.md)."""

    def __init__(self, base_url: str, password: str, *, fresh_connections: bool = False) -> None:
        headers = {"Connection": "close"} if fresh_connections else {}
        self._http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=TIMEOUT_S, headers=headers)
        response = self._http.post(
            "/auth/login", json={"username": FIRST_ADMIN, "password": password}
        )
        _check(response, 200)
        self._http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def timed(
        self, method: str, path: str, *, expect: int | None = 200, **kwargs: Any
    ) -> tuple[float, httpx.Response]:
        """(seconds, response); the body is read inside the timed span. `expect` None: any
        status is an answer."""
        began = time.perf_counter()
        response = self._http.request(method, path, **kwargs)
        elapsed = time.perf_counter() - began
        if expect is not None:
            _check(response, expect)
        return elapsed, response

    def get(self, path: str, *, expect: int = 200, **kwargs: Any) -> httpx.Response:
        return self.timed("GET", path, expect=expect, **kwargs)[1]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Untimed and unchecked: for polling where a 404 is an answer."""
        return self._http.request(method, path, **kwargs)


def _check(response: httpx.Response, expect: int) -> None:
    if response.status_code != expect:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {expect}: {response.text[:300]}"
        )
