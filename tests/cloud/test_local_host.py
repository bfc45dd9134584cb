"""The local relay host end to end: `skycam relay` as a real process on loopback, real
`websockets` clients acting as recorder and device, and API Gateway's limits."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .relay_fixtures import RecorderKey, b64url, new_sid
from .relay_host import (
    RelayClient,
    RelayProcess,
    open_ws,
    receive,
    receive_until,
    send,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(relay: RelayProcess) -> Iterator[RelayClient]:
    client = RelayClient(relay)
    yield client
    client.close()


async def closed_code(ws: object, within: float = 30) -> int:
    """Wait for the server to close the connection; its close code."""
    from websockets.asyncio.client import ClientConnection

    assert isinstance(ws, ClientConnection)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return int(exc.rcvd.code)
    raise AssertionError("connection not closed in time")


async def enrolled(
    api: RelayClient, key: RecorderKey, email: str
) -> tuple[object, dict[str, object]]:
    """A connected recorder that registered an invitation, and an account made from it."""
    rec = await open_ws(api.recorder_url(key))
    inv = b64url(secrets.token_bytes(12))
    await send(rec, {"t": "invite", "inv": inv, "exp": int(time.time()) + 3600, "ref": 1})
    assert await receive(rec) == {"t": "ok", "ref": 1}
    tokens = api.signup_login(email, inv)
    tokens["inv"] = inv
    return rec, tokens


async def test_ping_pong_and_frame_limits(api: RelayClient) -> None:
    key = RecorderKey()
    rec = await open_ws(api.recorder_url(key))
    await send(rec, {"t": "ping"})
    assert await receive(rec) == {"t": "pong"}
    # A message of 32 KB frames up to 128 KB passes the host; the relay refuses over 32 KB.
    await rec.send(["x" * 30_000, "y" * 30_000, "z" * 30_000])
    assert (await receive(rec))["code"] == "bad_request"
    await rec.send(b"\x00binary")
    assert await closed_code(rec) == 1003

    rec = await open_ws(api.recorder_url(key))
    await rec.send("x" * 40_000)  # one frame over 32 KB
    assert await closed_code(rec) == 1009
    rec = await open_ws(api.recorder_url(key))
    await rec.send(["x" * 30_000] * 5)  # 150 KB in 32 KB frames: message over 128 KB
    assert await closed_code(rec) == 1009


async def test_recorder_connect_refuses_wrong_signature_and_reused_nonce(api: RelayClient) -> None:
    key = RecorderKey()
    url = api.recorder_url(key)
    forged = url.replace(url.split("sig=")[1].split("&")[0], b64url(b"\x01" * 64))
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(forged)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:  # the failed try spent the nonce
        await open_ws(url)
    assert refused.value.response.status_code == 403
    url = api.recorder_url(key)
    ws = await open_ws(url)
    await ws.close()
    with pytest.raises(InvalidStatus) as refused:  # a nonce is single use
        await open_ws(url)
    assert refused.value.response.status_code == 403


async def test_device_ticket_is_single_use(api: RelayClient) -> None:
    rec, tokens = await enrolled(api, RecorderKey(), "ticket@example.org")
    url = api.device_url(str(tokens["access_token"]))
    device = await open_ws(url)
    await send(device, {"t": "ping"})
    assert await receive(device) == {"t": "pong"}
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(url)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        await open_ws(f"{api.relay.ws}/?role=device&ticket=notaticket1234")
    assert api.post("/v1/tickets", {}).status_code == 401
    await device.close()
    await rec.close()  # type: ignore[attr-defined]


async def test_grants_broker_sessions_and_revocation_closes_them_at_once(api: RelayClient) -> None:
    key = RecorderKey()
    rec, tokens = await enrolled(api, key, "grant@example.org")
    acct = tokens["account"]["id"]  # type: ignore[index]
    device = await open_ws(api.device_url(str(tokens["access_token"])))
    sid = new_sid()
    await send(device, {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"})
    assert (await receive(device))["code"] == "no_grant"

    await send(rec, {"t": "grant", "acct": acct, "ref": "g"})  # type: ignore[attr-defined]
    assert await receive(rec) == {"t": "ok", "ref": "g"}  # type: ignore[arg-type]
    await send(device, {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"})
    assert await receive(rec) == {"t": "open", "sid": sid, "acct": acct, "hs": "aGk"}  # type: ignore[arg-type]
    await send(rec, {"t": "accept", "sid": sid, "hs": "aGV5"})  # type: ignore[arg-type]
    assert await receive(device) == {"t": "accept", "sid": sid, "hs": "aGV5"}
    for seq in range(3):
        await send(device, {"t": "data", "sid": sid, "seq": seq, "ct": "cXVlc3Rpb24"})
        await send(rec, {"t": "data", "sid": sid, "seq": seq, "ct": "YW5zd2Vy"})  # type: ignore[arg-type]
    got_rec = [await receive(rec) for _ in range(3)]  # type: ignore[arg-type]
    got_dev = [await receive(device) for _ in range(3)]
    assert sorted(m["seq"] for m in got_rec) == [0, 1, 2]
    assert {m["ct"] for m in got_dev} == {"YW5zd2Vy"}

    admin = api.admin_token()
    recorders = api.get("/v1/console/recorders", admin).json()["recorders"]
    assert [r["accounts_granted"] for r in recorders if r["rid"] == key.rid] == [[acct]]
    started = time.monotonic()
    reply = api.http.delete(
        f"/v1/console/grants/{key.rid}/{acct}", headers={"Authorization": f"Bearer {admin}"}
    )
    assert reply.json() == {"revoked": True, "sessions_closed": 1}
    closing = {"t": "close", "sid": sid, "reason": "revoked"}
    assert await receive_until(device, "close") == closing
    assert await receive_until(rec, "close") == closing  # type: ignore[arg-type]
    assert time.monotonic() - started < 10
    await send(device, {"t": "data", "sid": sid, "seq": 3, "ct": "eA"})
    assert (await receive(device))["code"] == "unknown_session"
    await send(device, {"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    assert (await receive(device))["code"] == "no_grant"
    await device.close()
    await rec.close()  # type: ignore[attr-defined]


async def test_management_api_works_with_boto3(api: RelayClient) -> None:
    import boto3

    rec = await open_ws(api.recorder_url(RecorderKey()))
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{api.relay.manage}/local",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    with pytest.raises(client.exceptions.GoneException):
        await asyncio.to_thread(client.post_to_connection, ConnectionId="nope", Data=b"{}")
    # The connection id is the relay's; find it from the connection table's view.
    await send(rec, {"t": "hello", "version": "9.9"})
    assert (await receive(rec))["t"] == "ok"
    await rec.close()


def test_rest_bad_input_gets_4xx(api: RelayClient) -> None:
    assert api.http.post("/v1/auth/login", content=b"{nope").status_code == 400
    assert api.post("/v1/auth/login", {"email": 3}).status_code == 400
    assert api.http.get("/v1/nothing-here").status_code in (403, 404)
    assert api.get("/v1/console/audit", "garbage").status_code == 401


async def test_idle_and_maximum_connection_time(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path, idle_s=2, max_s=5).start()
    api = RelayClient(relay)
    try:
        key = RecorderKey()
        silent = await open_ws(api.recorder_url(key))
        started = time.monotonic()
        assert await closed_code(silent) == 1001
        assert 1.5 < time.monotonic() - started < 10

        chatty = await open_ws(api.recorder_url(key))
        started = time.monotonic()
        pongs = 0
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < 30:
                await send(chatty, {"t": "ping"})
                if (await receive(chatty)) == {"t": "pong"}:
                    pongs += 1
                await asyncio.sleep(0.5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert closed.value.rcvd.reason == "connection time limit"
        assert pongs >= 4  # kept alive past the idle timeout by its heartbeat
        assert 4.5 < time.monotonic() - started < 15
    finally:
        api.close()
        relay.stop()


async def test_recorder_is_back_after_a_relay_restart(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path).start()
    api = RelayClient(relay)
    key = RecorderKey()
    try:
        rec = await open_ws(api.recorder_url(key))
        await send(rec, {"t": "ping"})
        assert await receive(rec) == {"t": "pong"}
        relay.stop(signal.SIGKILL)  # no goodbye: stale rows stay in the store
        with pytest.raises(ConnectionClosed):
            await receive(rec, within=30)
        relay = RelayProcess(tmp_path, ports=relay.ports).start()
        api.close()
        api = RelayClient(relay)
        admin = api.admin_token() if relay.admin_password else None
        assert admin is None  # the admin is kept across restarts, its password shown once
        deadline = time.monotonic() + 30
        while True:  # what a recorder's tunnel client does: dial again until it is back
            try:
                rec = await open_ws(api.recorder_url(key))
                break
            except (OSError, InvalidStatus, httpx.HTTPError):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        await send(rec, {"t": "ping"})
        assert await receive(rec) == {"t": "pong"}
        await rec.close()
    finally:
        api.close()
        relay.stop()


async def test_make_before_break_routes_to_the_newest_connection(api: RelayClient) -> None:
    key = RecorderKey()
    old, tokens = await enrolled(api, key, "rollover@example.org")
    acct = tokens["account"]["id"]  # type: ignore[index]
    await send(old, {"t": "grant", "acct": acct})  # type: ignore[arg-type]
    await receive(old)  # type: ignore[arg-type]
    device = await open_ws(api.device_url(str(tokens["access_token"])))
    sid = new_sid()
    await send(device, {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"})
    assert (await receive(old))["t"] == "open"  # type: ignore[arg-type]
    new = await open_ws(api.recorder_url(key))
    await send(new, {"t": "ping"})
    assert await receive(new) == {"t": "pong"}
    await send(device, {"t": "data", "sid": sid, "seq": 0, "ct": "bmV3"})
    assert (await receive(new))["ct"] == "bmV3"
    # In-flight answers on the old connection still reach the device.
    await send(old, {"t": "data", "sid": sid, "seq": 0, "ct": "b2xk"})  # type: ignore[arg-type]
    assert (await receive(device))["ct"] == "b2xk"
    await old.close()  # type: ignore[attr-defined]
    await send(device, {"t": "data", "sid": sid, "seq": 1, "ct": "c3RpbGw"})
    assert (await receive(new))["ct"] == "c3RpbGw"
    await device.close()
    await new.close()


def _files_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


async def test_privacy_canary_never_reaches_logs_tables_or_files(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "data", verbose=True).start()
    api = RelayClient(relay)
    hs_canary = "CanaryHandshake" + secrets.token_hex(8)
    ct_canary = "CanaryCipher" + secrets.token_hex(8)
    try:
        key = RecorderKey()
        rec, tokens = await enrolled(api, key, "canary@example.org")
        acct = tokens["account"]["id"]  # type: ignore[index]
        await send(rec, {"t": "grant", "acct": acct})  # type: ignore[arg-type]
        await receive(rec)  # type: ignore[arg-type]
        device = await open_ws(api.device_url(str(tokens["access_token"])))
        sid = new_sid()
        await send(device, {"t": "open", "sid": sid, "rid": key.rid, "hs": hs_canary})
        assert (await receive(rec))["hs"] == hs_canary  # type: ignore[arg-type]
        await send(rec, {"t": "accept", "sid": sid, "hs": hs_canary + "R"})  # type: ignore[arg-type]
        assert (await receive(device))["hs"] == hs_canary + "R"
        for seq in range(5):
            await send(device, {"t": "data", "sid": sid, "seq": seq, "ct": ct_canary + str(seq)})
            assert (await receive(rec))["ct"] == ct_canary + str(seq)  # type: ignore[arg-type]
        await send(device, {"t": "data", "sid": new_sid(), "seq": 0, "ct": ct_canary + "lost"})
        assert (await receive(device))["code"] == "unknown_session"
        await send(device, {"t": "close", "sid": sid})
        assert (await receive(rec))["t"] == "close"  # type: ignore[arg-type]
        await device.close()
        await rec.close()  # type: ignore[attr-defined]
    finally:
        api.close()
        relay.stop()
    logs = relay.logs()
    assert "session_opened" in logs  # the audit log did write, at debug verbosity
    stored = _files_bytes(tmp_path / "data")
    assert stored  # the SQLite database and its WAL are there to search
    for canary in (hs_canary, ct_canary):
        assert canary not in logs
        assert canary.encode() not in stored
        assert json.dumps(canary).encode() not in stored
