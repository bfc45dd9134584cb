"""The push endpoints: the VAPID public key, subscribing with a browser's PushSubscription,
own subscriptions only, per-camera choices limited to the caller's rights, and refusals (4xx
with a reason) for endpoints the recorder must never call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from recorder.accounts.model import Right, Role
from sim.push_service import Browser
from tests.api.conftest import Api

PUSH = "/api/v1/push"


def _subscription(
    endpoint: str = "https://push.example.com/send/abc", **extra: Any
) -> dict[str, Any]:
    return {"endpoint": endpoint, "expirationTime": None, "keys": Browser().keys(), **extra}


async def test_the_public_key_is_served_and_the_private_key_kept_0600(api: Api) -> None:
    viewer = await api.add_user("vera", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    answer = await api.client.get(f"{PUSH}/public-key", headers=viewer)
    assert answer.status_code == 200
    key = answer.json()["public_key"]
    assert len(key) == 87 and key.startswith("B")  # 65-byte uncompressed P-256 point
    pem = api.config.data_dir / "secrets" / "vapid.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in pem.read_bytes()
    assert (await api.client.get(f"{PUSH}/public-key")).status_code == 401


async def test_subscribe_list_update_and_delete_own(api: Api) -> None:
    vera = await api.add_user("vera", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    otto = await api.add_user("otto", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    quiet = {"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}
    body = _subscription(device="vera's phone", cameras=["cam1"], quiet_hours=quiet)
    created = await api.client.post(f"{PUSH}/subscriptions", json=body, headers=vera)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["cameras"] == ["cam1"] and sub["quiet_hours"]["time_zone"] == "Europe/Paris"
    assert "keys" not in sub and "auth" not in str(sub)
    # The same endpoint again updates it (a browser re-subscribing), it does not add one.
    again = await api.client.post(
        f"{PUSH}/subscriptions", json={**body, "cameras": None, "quiet_hours": None}, headers=vera
    )
    assert again.status_code == 201 and again.json()["id"] == sub["id"]
    assert again.json()["cameras"] is None and again.json()["quiet_hours"] is None
    mine = await api.client.get(f"{PUSH}/subscriptions", headers=vera)
    assert [s["id"] for s in mine.json()] == [sub["id"]]
    assert (await api.client.get(f"{PUSH}/subscriptions", headers=otto)).json() == []
    # Someone else's endpoint or subscription: refused, and not found.
    taken = await api.client.post(f"{PUSH}/subscriptions", json=body, headers=otto)
    assert taken.status_code == 409
    gone = await api.client.delete(f"{PUSH}/subscriptions/{sub['id']}", headers=otto)
    assert gone.status_code == 404
    deleted = await api.client.delete(f"{PUSH}/subscriptions/{sub['id']}", headers=vera)
    assert deleted.status_code == 204
    audit = await api.client.get("/api/v1/audit?action=push.", headers=await api.headers())
    entries = audit.json()["entries"] if isinstance(audit.json(), dict) else audit.json()
    assert [e["action"] for e in entries][:2] == ["push.unsubscribe", "push.subscribe"]
    assert "send/abc" not in audit.text  # the endpoint's capability path is never stored
    assert (await api.client.get(f"{PUSH}/subscriptions", headers=vera)).json() == []


async def test_cameras_chosen_must_be_the_callers(api: Api) -> None:
    vera = await api.add_user("vera", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    refused = await api.client.post(
        f"{PUSH}/subscriptions", json=_subscription(cameras=["cam2"]), headers=vera
    )
    assert refused.status_code == 403 and "cam2" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://push.example.com/x", "https"),
        ("http://127.0.0.1:9/x", "https"),  # loopback only with the test-only allow_loopback
        ("https://10.1.2.3/x", "public address"),
        ("https://192.168.1.1/x", "public address"),
        ("https://169.254.169.254/latest/meta-data", "public address"),
        ("https://[::1]/x", "public address"),
        ("https://[fd00::1]/x", "public address"),
        ("https://router.local/x", "public host"),
        ("https://localhost/x", "public host"),
        ("https://nas/x", "public host"),
        ("https://user:pw@push.example.com/x", "user information"),
        ("ftp://push.example.com/x", "https"),
        ("not a url", "no host"),
    ],
)
async def test_endpoints_the_recorder_must_not_call_are_refused(
    api: Api, endpoint: str, reason: str
) -> None:
    admin = await api.headers()
    answer = await api.client.post(
        f"{PUSH}/subscriptions", json=_subscription(endpoint), headers=admin
    )
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"keys": {"p256dh": "A" * 87, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
        ({"keys": {"p256dh": Browser().keys()["p256dh"], "auth": "AAAA" * 8}}, "auth"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "HH:MM"),
        ({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}}, "zone"),
        ({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "+15:00"}}, "range"),
    ],
)
async def test_bad_keys_and_quiet_hours_are_4xx_with_a_reason(
    api: Api, change: dict[str, Any], reason: str
) -> None:
    admin = await api.headers()
    answer = await api.client.post(
        f"{PUSH}/subscriptions", json={**_subscription(), **change}, headers=admin
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert reason in answer.json()["error"]["message"]


async def test_status_is_for_admins(api: Api) -> None:
    vera = await api.add_user("vera", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    assert (await api.client.get(f"{PUSH}/status", headers=vera)).status_code == 403
    status = await api.client.get(f"{PUSH}/status", headers=await api.headers())
    assert status.status_code == 200 and status.json()["outbox"] == 0


async def test_logging_out_ends_the_subscriptions_of_that_login(api: Api) -> None:
    await api.add_user("vera", Role.VIEWER, {"cam1": {Right.LIVE, Right.PLAYBACK}})
    phone = await api.login("vera", "pw-vera-123")
    laptop = await api.login("vera", "pw-vera-123")
    for tokens, endpoint in ((phone, "https://push.example.com/p"),
                             (laptop, "https://push.example.com/l")):  # fmt: skip
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        made = await api.client.post(
            f"{PUSH}/subscriptions", json=_subscription(endpoint), headers=bearer
        )
        assert made.status_code == 201, made.text
    push = api.parts.context.push
    assert push is not None and len(await push.store.active()) == 2
    out = await api.client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {phone['access_token']}"}
    )
    assert out.status_code == 204
    # At once for sending (the query skips ended logins), and the row goes soon after.
    assert [s.endpoint for s in await push.store.active()] == ["https://push.example.com/l"]
    laptop_bearer = {"Authorization": f"Bearer {laptop['access_token']}"}
    for _ in range(100):
        listed = (await api.client.get(f"{PUSH}/subscriptions", headers=laptop_bearer)).json()
        if len(listed) == 1:
            break
        await asyncio.sleep(0.02)
    assert [s["endpoint"] for s in listed] == ["https://push.example.com/l"]
