"""The Chalice app against moto: REST routes through chalice.test.Client, WebSocket routes
invoked with API-Gateway-shaped events, replies read from moto's management API backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from cloud import app as relay_app
from cloud.chalicelib.storage.dynamo_items import create_table

from .relay_fixtures import RecorderKey, new_sid, split_messages, ws_event

CLOUD = Path(__file__).resolve().parents[2] / "cloud"
ADDR_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SKYCAM_RELAY_TABLE": "relay-test",
        "SKYCAM_RELAY_SIGNING_SECRET": "relay-signing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table(boto3.client("dynamodb"), "relay-test")
        boto3.client("secretsmanager").create_secret(Name="relay-signing", SecretString="k" * 48)
        relay_app.install_relay(None)
        with Client(relay_app.app, project_dir=str(CLOUD)) as c:
            yield c
        relay_app.install_relay(None)


def posted(conn_id: str) -> list[dict[str, Any]]:
    backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
    if conn_id not in backend.connections:
        return []
    return split_messages(backend.connections[conn_id].data)


def post(client: Client, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = dict(ADDR_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.http.post(path, headers=headers, body=json.dumps(body))


def connect_recorder(client: Client, key: RecorderKey, conn_id: str) -> int:
    reply = post(client, "/v1/recorders/challenge", {"recorder_id": key.rid})
    assert reply.status_code == 200, reply.body
    nonce = reply.json_body["nonce"]
    result = client.lambda_.invoke(
        "ws_connect", ws_event("$connect", conn_id, query=key.connect_query(nonce))
    )
    return int(result.payload["statusCode"])


def send(client: Client, conn_id: str, message: dict[str, Any]) -> None:
    client.lambda_.invoke("ws_message", ws_event("$default", conn_id, body=json.dumps(message)))


def signup_login(client: Client, email: str, invitation: str | None) -> dict[str, Any]:
    body = {"email": email, "password": "correct horse battery"}
    if invitation:
        body["invitation"] = invitation
    assert post(client, "/v1/accounts", body).status_code == 201
    reply = post(client, "/v1/auth/login", {"email": email, "password": "correct horse battery"})
    assert reply.status_code == 200, reply.body
    return dict(reply.json_body)


def connect_device(client: Client, token: str, conn_id: str) -> int:
    ticket = post(client, "/v1/tickets", {}, token).json_body["ticket"]
    event = ws_event("$connect", conn_id, query={"role": "device", "ticket": ticket})
    return int(client.lambda_.invoke("ws_connect", event).payload["statusCode"])


def test_recorder_connect_needs_a_fresh_signed_challenge(client: Client) -> None:
    key = RecorderKey()
    assert connect_recorder(client, key, "rec-1") == 200
    nonce = post(client, "/v1/recorders/challenge", {"recorder_id": key.rid}).json_body["nonce"]
    query = key.connect_query(nonce)
    bad = dict(query, sig=RecorderKey().connect_query(nonce)["sig"])
    assert (
        client.lambda_.invoke("ws_connect", ws_event("$connect", "x", query=bad)).payload[
            "statusCode"
        ]
        == 403
    )
    # The failed attempt spent the nonce: the right signature on it is refused too.
    assert (
        client.lambda_.invoke("ws_connect", ws_event("$connect", "y", query=query)).payload[
            "statusCode"
        ]
        == 403
    )
    other = RecorderKey()
    nonce = post(client, "/v1/recorders/challenge", {"recorder_id": key.rid}).json_body["nonce"]
    forged = other.connect_query(nonce) | {"rid": key.rid}
    assert (
        client.lambda_.invoke("ws_connect", ws_event("$connect", "z", query=forged)).payload[
            "statusCode"
        ]
        == 403
    )
    assert post(client, "/v1/recorders/challenge", {"recorder_id": "NOPE"}).status_code == 400


def test_well_known_path_names_the_websocket_api_for_the_pwa(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On AWS, CloudFront forwards /.well-known/skycam-relay here (infra/components/web.py);
    the answer is the local host's (cloud/local/web.py), with API Gateway's connection cap."""
    wss = "wss://abc123.execute-api.us-east-1.amazonaws.com/api"
    monkeypatch.setenv("SKYCAM_RELAY_WEBSOCKET_URL", wss)
    reply = client.http.get("/.well-known/skycam-relay")
    assert reply.status_code == 200, reply.body
    assert reply.json_body == {"websocket": wss, "max_connection_s": 7200}
    # The PWA takes only a JSON answer as a relay's (a recorder answers this path with HTML).
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-cache"


def test_well_known_path_without_a_websocket_url_is_a_404_with_a_reason(client: Client) -> None:
    reply = client.http.get("/.well-known/skycam-relay")
    assert reply.status_code == 404
    assert reply.json_body["error"] == "not_found"
    assert "WebSocket" in reply.json_body["reason"]


def test_viewer_address_is_believed_only_with_the_edge_secret(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind CloudFront the source address is an edge server's; the viewer's comes in a
    header anyone could send, so it counts only with the distribution's secret header."""
    edge_secret = "e" * 48
    boto3.client("secretsmanager").create_secret(Name="relay-edge", SecretString=edge_secret)
    monkeypatch.setenv("SKYCAM_RELAY_EDGE_SECRET", "relay-edge")
    attempts = [
        {"CloudFront-Viewer-Address": "203.0.113.7:44310", "X-SkyCam-Edge": edge_secret},
        {"CloudFront-Viewer-Address": "198.51.100.9:1000", "X-SkyCam-Edge": "x" * 48},
        {"CloudFront-Viewer-Address": "2001:db8::5:443", "X-SkyCam-Edge": edge_secret},
        {"CloudFront-Viewer-Address": "198.51.100.10:1000"},
        {},
    ]
    wrong = json.dumps({"email": "nobody@example.com", "password": "not the password"})
    for headers in attempts:
        reply = client.http.post("/v1/auth/login", headers={**ADDR_HEADERS, **headers}, body=wrong)
        assert reply.status_code == 401, reply.body
    entries = relay_app.relay().console.audit(None, 20)
    addresses = [e["address"] for e in entries if e["kind"] == "login_failed"][::-1]
    source = addresses[-1]  # API Gateway's own (the test client's)
    assert source not in ("203.0.113.7", "2001:db8::5")
    assert addresses == ["203.0.113.7", source, "2001:db8::5", source, source]


def test_ping_is_answered_with_pong(client: Client) -> None:
    key = RecorderKey()
    connect_recorder(client, key, "rec-1")
    send(client, "rec-1", {"t": "ping"})
    assert posted("rec-1") == [{"t": "pong"}]


def test_signup_needs_a_live_invitation_by_default(client: Client) -> None:
    body = {"email": "a@example.org", "password": "correct horse battery"}
    reply = post(client, "/v1/accounts", body)
    assert reply.status_code == 403
    assert post(client, "/v1/accounts", dict(body, invitation="unknown-invite")).status_code == 403
    key = RecorderKey()
    connect_recorder(client, key, "rec-1")
    send(client, "rec-1", {"t": "invite", "inv": "invite-0001", "exp": 4_000_000_000, "ref": 7})
    assert posted("rec-1") == [{"t": "ok", "ref": 7}]
    assert post(client, "/v1/accounts", dict(body, invitation="invite-0001")).status_code == 201
    assert post(client, "/v1/accounts", dict(body, invitation="invite-0001")).status_code == 409
    assert post(client, "/v1/accounts", {"email": "bad", "password": "x"}).status_code == 400
    assert client.http.post("/v1/accounts", headers=ADDR_HEADERS, body="{nope").status_code == 400


def test_login_refresh_logout(client: Client) -> None:
    relay_app.relay().items.put("inv#invite-0001", "meta", {"rid": "r" * 26, "exp": 4_000_000_000})
    tokens = signup_login(client, "b@example.org", "invite-0001")
    me = client.http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json_body["email"] == "b@example.org"
    assert client.http.get("/v1/me").status_code == 401
    assert client.http.get("/v1/me", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    first = tokens["refresh_token"]
    second = post(client, "/v1/auth/refresh", {"refresh_token": first})
    assert second.status_code == 200
    # Reusing a refresh token is refused and revokes the account's other refresh tokens.
    assert post(client, "/v1/auth/refresh", {"refresh_token": first}).status_code == 401
    assert (
        post(
            client, "/v1/auth/refresh", {"refresh_token": second.json_body["refresh_token"]}
        ).status_code
        == 401
    )
    tokens = signup_login(client, "c@example.org", "invite-0001")
    assert (
        post(client, "/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}).status_code
        == 204
    )
    assert (
        post(client, "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )


def test_login_is_throttled_per_account(client: Client) -> None:
    relay_app.relay().items.put("inv#invite-0001", "meta", {"rid": "r" * 26, "exp": 4_000_000_000})
    signup_login(client, "d@example.org", "invite-0001")
    for _ in range(5):
        reply = post(
            client, "/v1/auth/login", {"email": "d@example.org", "password": "wrong password"}
        )
        assert reply.status_code == 401
    reply = post(
        client, "/v1/auth/login", {"email": "d@example.org", "password": "correct horse battery"}
    )
    assert reply.status_code == 429


def test_brokered_session_grant_and_revocation(client: Client) -> None:
    key = RecorderKey()
    assert connect_recorder(client, key, "rec-1") == 200
    send(client, "rec-1", {"t": "hello", "version": "1.2.3"})
    send(client, "rec-1", {"t": "invite", "inv": "invite-0001", "exp": 4_000_000_000})
    tokens = signup_login(client, "e@example.org", "invite-0001")
    acct = tokens["account"]["id"]
    assert connect_device(client, tokens["access_token"], "dev-1") == 200

    # Without a grant: refused; with the invitation: forwarded to the recorder with the account.
    sid = new_sid()
    send(client, "dev-1", {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGVsbG8"})
    assert posted("dev-1")[-1]["code"] == "no_grant"
    send(
        client,
        "dev-1",
        {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGVsbG8", "inv": "invite-0001"},
    )
    assert posted("rec-1")[-1] == {
        "t": "open",
        "sid": sid,
        "acct": acct,
        "hs": "aGVsbG8",
        "inv": "invite-0001",
    }
    send(client, "rec-1", {"t": "accept", "sid": sid, "hs": "d29ybGQ"})
    assert posted("dev-1")[-1] == {"t": "accept", "sid": sid, "hs": "d29ybGQ"}
    send(client, "rec-1", {"t": "invite_used", "inv": "invite-0001"})
    send(client, "rec-1", {"t": "grant", "acct": acct, "ref": "g"})
    assert posted("rec-1")[-1] == {"t": "ok", "ref": "g"}
    send(client, "dev-1", {"t": "data", "sid": sid, "seq": 0, "ct": "c2VhbGVk"})
    assert posted("rec-1")[-1] == {"t": "data", "sid": sid, "seq": 0, "ct": "c2VhbGVk"}
    send(client, "dev-1", {"t": "data", "sid": new_sid(), "seq": 0, "ct": "eA"})
    assert posted("dev-1")[-1]["code"] == "unknown_session"

    # The console: a non-admin is refused; the admin sees the recorder and revokes the grant.
    user = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.http.get("/v1/console/recorders", headers=user).status_code == 403
    password = relay_app.relay().accounts.ensure_admin("admin@relay.test")
    assert password
    admin = post(
        client, "/v1/auth/login", {"email": "admin@relay.test", "password": password}
    ).json_body
    auth = {"Authorization": f"Bearer {admin['access_token']}"}
    recorders = client.http.get("/v1/console/recorders", headers=auth).json_body["recorders"]
    assert recorders == [
        {
            "rid": key.rid,
            "online": True,
            "last_seen": recorders[0]["last_seen"],
            "version": "1.2.3",
            "registered_at": recorders[0]["registered_at"],
            "disabled": False,
            "accounts_granted": [acct],
        }
    ]
    grants = client.http.get("/v1/console/grants", headers=auth).json_body["grants"]
    assert [(g["rid"], g["acct"]) for g in grants] == [(key.rid, acct)]
    reply = client.http.delete(f"/v1/console/grants/{key.rid}/{acct}", headers=auth)
    assert reply.json_body == {"revoked": True, "sessions_closed": 1}
    closing = {"t": "close", "sid": sid, "reason": "revoked"}
    assert posted("dev-1")[-1] == closing and posted("rec-1")[-1] == closing
    send(client, "dev-1", {"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    assert posted("dev-1")[-1]["code"] == "no_grant"

    kinds = [
        e["kind"] for e in client.http.get("/v1/console/audit", headers=auth).json_body["entries"]
    ]
    for kind in (
        "recorder_registered",
        "invitation_registered",
        "signup",
        "session_opened",
        "grant_added",
        "grant_revoked",
        "session_closed",
        "login",
    ):
        assert kind in kinds


def test_disabling_an_account_closes_its_sessions(client: Client) -> None:
    key = RecorderKey()
    connect_recorder(client, key, "rec-1")
    send(client, "rec-1", {"t": "invite", "inv": "invite-0002", "exp": 4_000_000_000})
    tokens = signup_login(client, "f@example.org", "invite-0002")
    acct = tokens["account"]["id"]
    send(client, "rec-1", {"t": "grant", "acct": acct})
    connect_device(client, tokens["access_token"], "dev-1")
    sid = new_sid()
    send(client, "dev-1", {"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"})
    password = relay_app.relay().accounts.ensure_admin("admin@relay.test")
    admin = post(
        client, "/v1/auth/login", {"email": "admin@relay.test", "password": password}
    ).json_body
    auth = {"Authorization": f"Bearer {admin['access_token']}"}
    assert client.http.post(f"/v1/console/accounts/{acct}/disable", headers=auth).status_code == 200
    assert posted("rec-1")[-1] == {"t": "close", "sid": sid, "reason": "revoked"}
    assert (
        client.http.get(
            "/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 401
    )
    accounts = client.http.get("/v1/console/accounts", headers=auth).json_body["accounts"]
    assert {a["email"]: a["disabled"] for a in accounts}["f@example.org"] is True


def test_bad_messages_get_bad_request_errors(client: Client) -> None:
    key = RecorderKey()
    connect_recorder(client, key, "rec-1")
    for body in (
        "not json",
        "[1]",
        json.dumps({"t": "open", "sid": new_sid()}),
        json.dumps({"t": "x"}),
    ):
        client.lambda_.invoke("ws_message", ws_event("$default", "rec-1", body=body))
    assert [m["code"] for m in posted("rec-1")] == ["bad_request"] * 4
    send(client, "rec-1", {"t": "data", "sid": "short", "seq": 0, "ct": "eA"})
    assert posted("rec-1")[-1]["code"] == "bad_request"
    send(client, "rec-1", {"t": "ping", "pad": "x" * 40_000})
    assert posted("rec-1")[-1]["code"] == "bad_request"


def test_privacy_canary_never_reaches_dynamodb(client: Client) -> None:
    hs, ct = "CanaryHs" + new_sid().replace("-", "x"), "CanaryCt" + new_sid().replace("-", "x")
    key = RecorderKey()
    connect_recorder(client, key, "rec-1")
    send(client, "rec-1", {"t": "invite", "inv": "invite-0003", "exp": 4_000_000_000})
    tokens = signup_login(client, "g@example.org", "invite-0003")
    send(client, "rec-1", {"t": "grant", "acct": tokens["account"]["id"]})
    connect_device(client, tokens["access_token"], "dev-1")
    sid = new_sid()
    send(client, "dev-1", {"t": "open", "sid": sid, "rid": key.rid, "hs": hs})
    send(client, "rec-1", {"t": "accept", "sid": sid, "hs": hs})
    send(client, "dev-1", {"t": "data", "sid": sid, "seq": 0, "ct": ct})
    send(client, "rec-1", {"t": "data", "sid": sid, "seq": 0, "ct": ct})
    assert posted("rec-1")[-1]["ct"] == ct and posted("dev-1")[-1]["ct"] == ct
    table = boto3.client("dynamodb").scan(TableName="relay-test")["Items"]
    assert len(table) > 10
    dump = json.dumps(table)
    assert sid in dump  # routing metadata is stored...
    assert hs not in dump and ct not in dump  # ...sealed contents never
