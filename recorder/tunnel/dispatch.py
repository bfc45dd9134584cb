"""Runs a tunnelled call through the recorder's own /api/v1 app, in process, as a user.

The call goes through the same FastAPI app, routes, dependencies and per-camera checks as a
LAN call: nothing is re-implemented, so a viewer gets the same 403 through the tunnel. To
authenticate without a password, each tunnel session opens an ordinary login session for the
device's user (`TokenService.start_session`) and presents its access token, refreshed as it
ages; ending the tunnel session ends that login session. So everything that ends a user's
sessions on the LAN (logout everywhere, disable, password reset) ends tunnelled calls too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from recorder.accounts.tokens import TokenService
from recorder.clock import Clock
from recorder.errors import NotAuthenticated
from recorder.tunnel.errors import FramingError

PREFIX = "/api/v1/"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
PATH_RE = re.compile(r"^/api/v1/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
# Never taken from the device: the tunnel decides who the caller is and where it comes from.
DROPPED_REQUEST = frozenset(
    {"authorization", "cookie", "host", "content-length", "connection", "transfer-encoding",
     "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"}
)  # fmt: skip
DROPPED_RESPONSE = frozenset({"connection", "transfer-encoding", "content-length", "set-cookie"})
CLIENT = ("tunnel", 0)  # what the app sees as the caller's address (audit: "tunnel")


@dataclass
class TunnelLogin:
    """The login session a tunnel session calls the API with."""

    user_id: int
    session_id: str
    access_token: str
    refresh_token: str
    issued_at: float


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    headers: list[list[str]]
    body: bytes


def request_of(header: dict[str, Any]) -> tuple[str, str, str, list[tuple[str, str]]]:
    """Method, path, query and headers of a "req" frame, validated (FramingError if not)."""
    method = str(header.get("method", "")).upper()
    path = header.get("path")
    query = header.get("query", "")
    headers = header.get("headers", [])
    if method not in METHODS:
        raise FramingError(f"method {method!r} is not allowed")
    if not isinstance(path, str) or not PATH_RE.match(path) or "/../" in path + "/":
        raise FramingError("path must be under /api/v1/")
    if not isinstance(query, str) or "#" in query:
        raise FramingError("query must be a string")
    if not isinstance(headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers
    ):
        raise FramingError("headers must be a list of [name, value] pairs")
    kept = [(k, v) for k, v in headers if k.lower() not in DROPPED_REQUEST]
    return method, path, query, kept


class InProcessApi:
    def __init__(self, app: Any, tokens: TokenService, clock: Clock, max_body: int) -> None:
        transport = httpx.ASGITransport(app=app, client=CLIENT)
        self._http = httpx.AsyncClient(transport=transport, base_url="http://recorder.tunnel")
        self._tokens = tokens
        self._clock = clock
        self.max_body = max_body

    async def login(self, user_id: int, label: str) -> TunnelLogin:
        pair = await self._tokens.start_session(user_id, client=label)
        return TunnelLogin(
            user_id, pair.session_id, pair.access_token, pair.refresh_token, self._clock.now()
        )

    async def logout(self, login: TunnelLogin) -> None:
        await self._tokens.end_session(login.session_id)

    async def _fresh(self, login: TunnelLogin) -> None:
        if self._clock.now() - login.issued_at < self._tokens.access_ttl_s / 2:
            return
        try:
            _user, pair = await self._tokens.refresh(login.refresh_token)
        except NotAuthenticated:
            return  # the session was ended: the call will get the API's own 401
        login.access_token, login.refresh_token = pair.access_token, pair.refresh_token
        login.issued_at = self._clock.now()

    async def call(self, login: TunnelLogin, header: dict[str, Any], body: bytes) -> ApiAnswer:
        method, path, query, headers = request_of(header)
        await self._fresh(login)
        headers.append(("authorization", f"Bearer {login.access_token}"))
        url = path + (f"?{query}" if query else "")
        response = await self._http.request(method, url, headers=headers, content=body)
        content = response.content
        if len(content) > self.max_body:
            message = f"the answer of {len(content)} bytes is over the tunnel's limit"
            return ApiAnswer(
                413,
                [["content-type", "application/json"]],
                b'{"error":{"code":"too_large","message":"' + message.encode() + b'"}}',
            )
        kept = [[k, v] for k, v in response.headers.items() if k.lower() not in DROPPED_RESPONSE]
        return ApiAnswer(response.status_code, kept, content)

    async def close(self) -> None:
        await self._http.aclose()
