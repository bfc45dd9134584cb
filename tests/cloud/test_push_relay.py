"""Web Push through the relay, its services on SQLite with a fake clock and the recording
sender, delivering for real to the push service on loopback: the relay signs with its own VAPID
key, reports each outcome to the recorder, and pushes each (event, endpoint) once."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.config import ConfigError, RelayConfig, load_config
from cloud.chalicelib.errors import StorageError
from cloud.chalicelib.push.endpoints import RefusedEndpoint, check_endpoint
from cloud.chalicelib.signing_keys import FileSecret
from cloud.chalicelib.storage.sqlite_items import SqliteItemStore
from cloud.chalicelib.tunnel.sender import RecordingSender
from cloud.chalicelib.wiring import Relay, build_relay
from sim.push_service import Browser, LocalPushService

from .relay_fixtures import RecorderKey

CONN = "rec-conn-1"


@pytest.fixture
def pusher() -> Iterator[LocalPushService]:
    with LocalPushService() as service:
        yield service


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Relay, FakeClock, RecordingSender, RecorderKey]]:
    clock = FakeClock()
    sender = RecordingSender()
    items = SqliteItemStore(tmp_path / "relay.db", clock)
    config = RelayConfig(
        storage="local", data_dir=str(tmp_path), push_allow_loopback=True, push_backoff_cap_s=1,
        push_per_minute=50,
    )  # fmt: skip
    relay = build_relay(config, sender, clock=clock, items=items, secret=FileSecret(tmp_path / "k"))
    key = RecorderKey()
    nonce, _ = relay.recorders.challenge(key.rid)
    relay.router.connect(CONN, key.connect_query(nonce), "192.0.2.1")
    yield relay, clock, sender, key
    items.close()


def push(relay: Relay, sender: RecordingSender, ref: str, **fields: Any) -> dict[str, Any]:
    """One notification in its own message: its result (with the message's ref)."""
    item = {"ev": "41", "ttl": 60, "urg": "high", "topic": "cam1"} | fields
    answer = push_items(relay, sender, ref, [item])
    (result,) = answer["results"]
    return {"t": answer["t"], "ref": answer["ref"], **result}


def push_items(relay: Relay, sender: RecordingSender, ref: str, items: list[Any]) -> dict[str, Any]:
    relay.router.message(CONN, json.dumps({"t": "push", "ref": ref, "items": items}))
    answers = [json.loads(m) for m in sender.sent[CONN]]
    return next(a for a in reversed(answers) if a.get("ref") == ref or a["t"] == "error")


def body_for(browser: Browser, endpoint: str, text: bytes) -> str:
    from recorder.push.payload import encrypt

    info = {"endpoint": endpoint, "keys": browser.keys()}
    return base64.urlsafe_b64encode(encrypt(info, text)).rstrip(b"=").decode()


def test_hello_gives_the_relay_key_and_the_relay_signs_what_it_cannot_read(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey], pusher: LocalPushService,
    tmp_path: Path,
) -> None:  # fmt: skip
    relay, _, sender, _ = world
    relay.router.message(CONN, json.dumps({"t": "hello", "version": "1.0", "ref": "h"}))
    welcome = json.loads(sender.sent[CONN][-1])
    assert welcome["t"] == "ok" and welcome["ref"] == "h"
    key = welcome["push_key"]
    assert stat.S_IMODE((tmp_path / "vapid.pem").stat().st_mode) == 0o600

    phone = Browser()
    endpoint = pusher.endpoint("phone")
    answer = push(relay, sender, "p1", ep=endpoint, body=body_for(phone, endpoint, b'{"e":41}'))
    assert answer == {"t": "pushed", "ref": "p1", "outcome": "delivered", "status": 201}
    (request,) = pusher.to("phone")
    assert phone.decrypt(request.body) == {"e": 41}
    assert request.headers["TTL"] == "60" and request.headers["Topic"] == "cam1"
    assert request.headers["Urgency"] == "high"
    # The VAPID signature is the relay's: k is its key and the JWT verifies with it.
    fields = dict(p.strip().split("=", 1) for p in request.headers["Authorization"][6:].split(","))
    assert fields["k"] == key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    claims = jwt.decode(
        fields["t"], public, algorithms=["ES256"], audience=f"http://127.0.0.1:{pusher.port}"
    )
    assert claims["sub"].startswith("mailto:")


def test_each_event_is_pushed_once_per_endpoint_even_when_resent(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey], pusher: LocalPushService
) -> None:
    relay, clock, sender, _ = world
    endpoint = pusher.endpoint("phone")
    body = body_for(Browser(), endpoint, b"x")
    assert push(relay, sender, "a", ep=endpoint, body=body)["outcome"] == "delivered"
    again = push(relay, sender, "b", ep=endpoint, body=body)  # the answer was lost: resent
    assert again["outcome"] == "delivered" and again["dup"] is True
    clock.advance(3600)
    assert push(relay, sender, "c", ep=endpoint, body=body)["dup"] is True
    assert len(pusher.to("phone")) == 1
    # Another event to the same endpoint is another notification.
    assert push(relay, sender, "d", ep=endpoint, body=body, ev="42")["outcome"] == "delivered"
    assert len(pusher.to("phone")) == 2


def test_outcomes_gone_retries_and_a_later_resend(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey], pusher: LocalPushService
) -> None:
    relay, _, sender, _ = world
    gone, busy, down = (pusher.endpoint(n) for n in ("gone", "busy", "down"))
    pusher.answer("gone", 410)
    assert push(relay, sender, "g", ep=gone, body="AAAA")["outcome"] == "gone"
    pusher.answer("busy", (429, {"Retry-After": "0"}), 503)
    answer = push(relay, sender, "b", ep=busy, body="AAAA")
    assert answer["outcome"] == "delivered" and len(pusher.to("busy")) == 3
    pusher.answer("down", 500, 500, 500)
    assert push(relay, sender, "d1", ep=down, body="AAAA")["outcome"] == "retry_later"
    # Not delivered: a resend is tried again (not answered from the record).
    assert push(relay, sender, "d2", ep=down, body="AAAA")["outcome"] == "delivered"
    assert len(pusher.to("down")) == 4
    pusher.answer("bad", 400)
    assert push(relay, sender, "x", ep=pusher.endpoint("bad"), body="AAAA")["outcome"] == "rejected"


def test_the_relay_calls_no_private_address_and_refuses_bad_messages(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey], tmp_path: Path
) -> None:
    relay, _, sender, _ = world
    for url in ("http://10.0.0.1/push", "https://169.254.169.254/latest", "https://printer.lan/x",
                "https://user@push.example.com/x", "ftp://push.example.com/x"):  # fmt: skip
        assert push(relay, sender, "r", ep=url, body="AAAA")["outcome"] == "rejected", url
    with pytest.raises(RefusedEndpoint):
        check_endpoint("http://127.0.0.1:9/x")  # loopback only when allowed (tests)
    assert check_endpoint("https://fcm.googleapis.com/fcm/send/abc").port == 443
    bad = push(relay, sender, "q", ep="http://127.0.0.1:9/x", body="!!", ev="x" * 65)
    assert bad["outcome"] == "rejected" and "ev" in bad["reason"]
    relay.router.message(CONN, json.dumps({"t": "push", "items": []}))  # no ref: an error
    assert json.loads(sender.sent[CONN][-1])["code"] == "bad_request"
    none = push_items(relay, sender, "none", [])
    assert none["code"] == "bad_request" and none["ref"] == "none"  # the recorder hears now
    assert push_items(relay, sender, "many", [{}] * 17)["code"] == "bad_request"
    # The per-recorder rate: beyond it, retry_later (the recorder's outbox keeps it).
    answers = [push(relay, sender, f"n{i}", ep="https://10.1.1.1/", body="AAAA")["outcome"]
               for i in range(52)]  # fmt: skip
    assert answers.count("retry_later") >= 1


def test_a_message_carries_several_each_answered_in_order(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey], pusher: LocalPushService
) -> None:
    relay, _, sender, _ = world
    pusher.answer("b", 410)
    items: list[Any] = [
        {"ev": "7", "ep": pusher.endpoint(name), "body": "AAAA", "ttl": 5, "topic": "t"}
        for name in ("a", "b", "c")
    ]
    items.insert(1, {"ev": "7", "ep": "https://10.0.0.2/", "body": "AAAA", "ttl": 5, "topic": "t"})
    items.append("not an object")
    answer = push_items(relay, sender, "m", items)
    assert [r["outcome"] for r in answer["results"]] == [
        "delivered", "rejected", "gone", "delivered", "rejected"
    ]  # fmt: skip
    again = push_items(relay, sender, "m2", items[:1])
    assert again["results"] == [{"outcome": "delivered", "status": 0, "dup": True}]
    assert len(pusher.to("a")) == 1


def test_a_device_cannot_push_and_lambda_budget_is_checked(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey],
) -> None:
    relay, _, sender, key = world
    acct_item = relay.items.put("inv#invite-0002", "meta", {"rid": key.rid, "exp": 4_000_000_000})
    assert acct_item
    acct = relay.accounts.signup("d@example.test", "correct horse battery", "invite-0002", "x").id
    ticket, _ = relay.tickets.issue(acct)
    relay.router.connect("dev-1", {"role": "device", "ticket": ticket}, "192.0.2.3")
    relay.router.message("dev-1", json.dumps({"t": "push", "ref": "z", "items": [{"ev": "1"}]}))
    assert json.loads(sender.sent["dev-1"][-1])["code"] == "bad_request"
    with pytest.raises(ConfigError):
        load_config({"SKYCAM_RELAY_PUSH_TIMEOUT_S": "20"})  # 3 x 20 s: over the Lambda's time


def test_an_offline_recorder_is_shown_with_when_it_was_last_seen(
    world: tuple[Relay, FakeClock, RecordingSender, RecorderKey],
) -> None:
    relay, clock, sender, key = world
    relay.items.put("inv#invite-0003", "meta", {"rid": key.rid, "exp": 4_000_000_000})
    acct = relay.accounts.signup("o@example.test", "correct horse battery", "invite-0003", "x").id
    relay.grants.add(key.rid, acct)
    seen = int(clock.now())
    relay.router.disconnect(CONN)
    clock.advance(500)
    ticket, _ = relay.tickets.issue(acct)
    relay.router.connect("dev-2", {"role": "device", "ticket": ticket}, "192.0.2.3")
    sid = base64.urlsafe_b64encode(b"s" * 16).rstrip(b"=").decode()
    relay.router.message("dev-2", json.dumps({"t": "open", "sid": sid, "rid": key.rid, "hs": "AA"}))
    error = json.loads(sender.sent["dev-2"][-1])
    assert error["code"] == "offline" and error["last_seen"] == seen


@mock_aws
def test_in_aws_the_key_is_the_deploy_time_secret() -> None:
    from cryptography.hazmat.primitives import serialization

    from cloud.chalicelib.push.vapid import SecretsManagerVapid, VapidSigner

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="vapid", SecretString=json.dumps({"private_key_pem": pem}))
    signer = VapidSigner(SecretsManagerVapid(client, arn["ARN"]), "mailto:a@b.example")
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert signer.public_key == base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert "PRIVATE" not in repr(signer)
    with pytest.raises(StorageError):
        _ = VapidSigner(SecretsManagerVapid(client, "missing"), "mailto:a@b.example").public_key
