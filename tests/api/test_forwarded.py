"""Forwarding headers (X-Forwarded-For) are believed only from configured proxies: otherwise
any client could pick its own address and walk past the per-address login throttle."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import Api, served

LOGIN = "/api/v1/auth/login"


async def _spray(base: str, attempts: int) -> list[int]:
    """Failed logins, each for a new user name and claiming a new address."""
    codes = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n in range(attempts):
            answer = await client.post(
                LOGIN,
                json={"username": f"guess{n}", "password": "wrong-pw-1"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            codes.append(answer.status_code)
    return codes


async def test_a_client_cannot_choose_its_address_by_default(api: Api, tmp_path: Path) -> None:
    async with served(api, tmp_path) as port:
        codes = await _spray(f"http://127.0.0.1:{port}", 40)
    print(f"{codes.count(401)} x 401, then {codes.count(429)} x 429")
    assert 429 in codes, codes  # the per-address limit (30 failures) held
    denied = await api.parts.context.audit.query(action="auth.login")
    assert denied and {entry.client for entry in denied} == {"127.0.0.1"}


async def test_a_configured_proxy_is_believed(api: Api, tmp_path: Path) -> None:
    async with served(api, tmp_path, trusted_proxies=["127.0.0.0/8"]) as port:
        codes = await _spray(f"http://127.0.0.1:{port}", 3)
    assert codes == [401, 401, 401]
    denied = await api.parts.context.audit.query(action="auth.login")
    assert {entry.client for entry in denied} == {"203.0.113.1", "203.0.113.2", "203.0.113.3"}
