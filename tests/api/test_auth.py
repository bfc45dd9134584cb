"""Logging in, tokens, throttling, and authentication on every endpoint."""

from __future__ import annotations

import asyncio
import re

import pytest

from recorder.accounts.model import Role
from tests.api.conftest import Api

LOGIN = "/api/v1/auth/login"
OPEN = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}


async def test_first_admin_logs_in_and_sees_itself(api: Api) -> None:
    body = await api.login()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = await api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["role"] == "admin"


@pytest.mark.parametrize("username", ["admin", "nobody"])
async def test_wrong_credentials_are_refused_alike(api: Api, username: str) -> None:
    response = await api.client.post(LOGIN, json={"username": username, "password": "wrong-pw"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "wrong user name or password"


async def test_malformed_login_is_a_4xx_with_a_reason(api: Api) -> None:
    response = await api.client.post(LOGIN, json={"username": "admin"})
    assert response.status_code == 422
    assert "password" in response.json()["error"]["message"]
    response = await api.client.post(
        LOGIN, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500


async def test_repeated_failures_are_throttled_then_forgiven(api: Api) -> None:
    for _ in range(6):
        await api.client.post(LOGIN, json={"username": "admin", "password": "guess-123"})
    response = await api.client.post(
        LOGIN, json={"username": "admin", "password": api.admin_password}
    )
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 900
    api.clock.advance(retry_after + 1)
    assert (await api.login())["access_token"]


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(api: Api) -> None:
    first = await api.login()
    rotated = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = "/api/v1/auth/me"
    assert (await api.client.get(me, headers=_bearer(second))).status_code == 200
    # The first refresh token again: stolen or replayed. The whole session ends.
    replay = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401 and "reused" in replay.text
    assert (await api.client.get(me, headers=_bearer(second))).status_code == 401
    again = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 401


async def test_logout_ends_the_session_at_once(api: Api) -> None:
    tokens = await api.login()
    assert (
        await api.client.post("/api/v1/auth/logout", headers=_bearer(tokens))
    ).status_code == 204
    response = await api.client.get("/api/v1/cameras", headers=_bearer(tokens))
    assert response.status_code == 401
    refreshed = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_access_tokens_expire(api: Api) -> None:
    tokens = await api.login()
    assert (await api.client.get("/api/v1/cameras", headers=_bearer(tokens))).status_code == 200
    api.clock.advance(901)
    response = await api.client.get("/api/v1/cameras", headers=_bearer(tokens))
    assert response.status_code == 401 and "expired" in response.text


async def test_disabling_a_user_ends_their_sessions(api: Api) -> None:
    viewer = await api.add_user("vera", Role.VIEWER)
    admin = await api.headers()
    users = (await api.client.get("/api/v1/users", headers=admin)).json()
    vera = next(u for u in users if u["username"] == "vera")
    patched = await api.client.patch(
        f"/api/v1/users/{vera['id']}", json={"disabled": True}, headers=admin
    )
    assert patched.status_code == 200
    assert (await api.client.get("/api/v1/cameras", headers=viewer)).status_code == 401


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _routes(api: Api) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI schema, with path parameters filled in."""
    out = []
    for template, operations in api.parts.server.app.openapi()["paths"].items():
        path = template.replace("{camera_id}", "cam1")
        path = re.sub(r"\{[a-z_]+\}", "1", path)
        for method in operations:
            if (method.upper(), template) not in OPEN:
                out.append((method.upper(), path))
    return out


async def test_every_endpoint_but_login_refuses_a_missing_or_expired_token(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 15, routes
    stale = await api.login()
    api.clock.advance(901)
    for method, path in routes:
        for headers in ({}, _bearer(stale), {"Authorization": "Bearer not-a-token"}):
            response = await api.client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers.get("WWW-Authenticate") == "Bearer"


async def test_one_refresh_token_used_twenty_times_at_once_gives_one_pair(api: Api) -> None:
    tokens = await api.login()
    answers = await asyncio.gather(
        *(
            api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            for _ in range(20)
        )
    )
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1, [a.status_code for a in answers]
    assert all(a.status_code == 401 for a in answers if a is not winners[0])
    # The others were reuse: the session (the winner's pair too) is over.
    me = await api.client.get("/api/v1/auth/me", headers=_bearer(winners[0].json()))
    assert me.status_code == 401
    again = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": winners[0].json()["refresh_token"]}
    )
    assert again.status_code == 401
