"""The relay's services on SQLite with a fake clock and the recording sender: expiries, rate
limits, offline recorders and leaving devices, without processes or sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.config import RelayConfig
from cloud.chalicelib.errors import Forbidden, RateLimited, Unauthorized
from cloud.chalicelib.signing_keys import FileSecret
from cloud.chalicelib.storage.sqlite_items import SqliteItemStore
from cloud.chalicelib.tunnel.sender import RecordingSender
from cloud.chalicelib.wiring import Relay, build_relay

from .relay_fixtures import RecorderKey, new_sid


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Relay, FakeClock, RecordingSender]]:
    clock = FakeClock()
    sender = RecordingSender()
    items = SqliteItemStore(tmp_path / "relay.db", clock)
    config = RelayConfig(storage="local", data_dir=str(tmp_path), opens_per_minute=3)
    relay = build_relay(config, sender, clock=clock, items=items, secret=FileSecret(tmp_path / "k"))
    yield relay, clock, sender
    items.close()


def last(sender: RecordingSender, conn: str) -> dict[str, Any]:
    return dict(json.loads(sender.sent[conn][-1]))


def connect_recorder(relay: Relay, key: RecorderKey, conn: str) -> None:
    nonce, _ = relay.recorders.challenge(key.rid)
    relay.router.connect(conn, key.connect_query(nonce), "192.0.2.1")


def account_with_grant(relay: Relay, key: RecorderKey, email: str) -> str:
    relay.items.put("inv#invite-0001", "meta", {"rid": key.rid, "exp": 4_000_000_000})
    acct = relay.accounts.signup(email, "correct horse battery", "invite-0001", "192.0.2.2").id
    relay.grants.add(key.rid, acct)
    return acct


def connect_device(relay: Relay, acct: str, conn: str) -> None:
    ticket, _ = relay.tickets.issue(acct)
    relay.router.connect(conn, {"role": "device", "ticket": ticket}, "192.0.2.3")


def test_challenges_and_tickets_expire(world: tuple[Relay, FakeClock, RecordingSender]) -> None:
    relay, clock, _ = world
    key = RecorderKey()
    nonce, _ = relay.recorders.challenge(key.rid)
    clock.advance(61)
    with pytest.raises(Forbidden):
        relay.router.connect("r1", key.connect_query(nonce), "192.0.2.1")
    acct = account_with_grant(relay, key, "t@example.org")
    ticket, _ = relay.tickets.issue(acct)
    clock.advance(31)
    with pytest.raises(Forbidden):
        relay.router.connect("d1", {"role": "device", "ticket": ticket}, "192.0.2.3")


def test_access_tokens_expire_and_refresh_tokens_too(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, clock, _ = world
    account_with_grant(relay, RecorderKey(), "x@example.org")
    pair = relay.accounts.login("x@example.org", "correct horse battery", "192.0.2.9")
    assert relay.accounts.authenticate(f"Bearer {pair.access_token}").email == "x@example.org"
    clock.advance(901)
    with pytest.raises(Unauthorized):
        relay.accounts.authenticate(f"Bearer {pair.access_token}")
    clock.advance(30 * 86400)
    with pytest.raises(Unauthorized):
        relay.accounts.refresh(pair.refresh_token, "192.0.2.9")


def test_login_is_throttled_per_address(world: tuple[Relay, FakeClock, RecordingSender]) -> None:
    relay, clock, _ = world
    for i in range(20):  # 20 different emails from one address
        with pytest.raises(Unauthorized):
            relay.accounts.login(f"u{i}@example.org", "wrong password", "198.51.100.1")
    with pytest.raises(RateLimited):
        relay.accounts.login("someone@example.org", "wrong password", "198.51.100.1")
    with pytest.raises(Unauthorized):  # another address is not affected
        relay.accounts.login("someone@example.org", "wrong password", "198.51.100.2")
    clock.advance(1801)  # the windows pass
    with pytest.raises(Unauthorized):
        relay.accounts.login("someone@example.org", "wrong password", "198.51.100.1")


def test_opens_are_rate_limited_per_account(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, clock, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "r1")
    acct = account_with_grant(relay, key, "rate@example.org")
    connect_device(relay, acct, "d1")
    for _ in range(3):
        relay.router.message(
            "d1", json.dumps({"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
        )
    assert len(sender.sent["r1"]) == 3
    relay.router.message(
        "d1", json.dumps({"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    )
    assert last(sender, "d1")["code"] == "rate_limited"
    clock.advance(60)
    relay.router.message(
        "d1", json.dumps({"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    )
    assert last(sender, "r1")["t"] == "open"


def test_sessions_end_when_the_recorder_goes_offline_or_the_device_leaves(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "r1")
    acct = account_with_grant(relay, key, "off@example.org")
    connect_device(relay, acct, "d1")
    sid = new_sid()
    relay.router.message("d1", json.dumps({"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"}))
    # make-before-break: a second connection, then the first goes; the session lives on.
    connect_recorder(relay, key, "r2")
    relay.router.disconnect("r1")
    relay.router.message("d1", json.dumps({"t": "data", "sid": sid, "seq": 0, "ct": "eA"}))
    assert last(sender, "r2")["t"] == "data"
    relay.router.disconnect("r2")
    assert last(sender, "d1") == {"t": "close", "sid": sid, "reason": "offline"}
    relay.router.message(
        "d1", json.dumps({"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    )
    assert last(sender, "d1")["code"] == "offline"

    connect_recorder(relay, key, "r3")
    sid = new_sid()
    relay.router.message("d1", json.dumps({"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"}))
    relay.router.disconnect("d1")
    assert last(sender, "r3") == {"t": "close", "sid": sid, "reason": "device_left"}
    assert relay.recorders.get(key.rid) is not None and relay.recorders.get(key.rid).online  # type: ignore[union-attr]


def test_disabling_an_account_closes_its_device_connections(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "r1")
    acct = account_with_grant(relay, key, "dis@example.org")
    connect_device(relay, acct, "d1")
    relay.accounts.disable(acct, "192.0.2.1", by="test")
    relay.router.account_disabled(acct)
    assert sender.closed == ["d1"]
    with pytest.raises(Forbidden):
        relay.accounts.login("dis@example.org", "correct horse battery", "192.0.2.1")


def test_a_recorder_revoke_closes_only_that_recorders_sessions(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _, sender = world
    one, two = RecorderKey(), RecorderKey()
    connect_recorder(relay, one, "r1")
    connect_recorder(relay, two, "r2")
    acct = account_with_grant(relay, one, "two@example.org")
    relay.grants.add(two.rid, acct)
    connect_device(relay, acct, "d1")
    s1, s2 = new_sid(), new_sid()
    relay.router.message("d1", json.dumps({"t": "open", "sid": s1, "rid": one.rid, "hs": "aGk"}))
    relay.router.message("d1", json.dumps({"t": "open", "sid": s2, "rid": two.rid, "hs": "aGk"}))
    relay.router.message("r1", json.dumps({"t": "revoke", "acct": acct, "ref": 5}))
    assert last(sender, "r1") == {"t": "ok", "ref": 5}
    assert {"t": "close", "sid": s1, "reason": "revoked"} in [
        json.loads(m) for m in sender.sent["d1"]
    ]
    relay.router.message("d1", json.dumps({"t": "data", "sid": s2, "seq": 0, "ct": "eA"}))
    assert last(sender, "r2")["sid"] == s2
    assert not relay.grants.has(one.rid, acct) and relay.grants.has(two.rid, acct)


def test_a_disabled_recorder_is_cut_off_and_cannot_come_back(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "r1")
    acct = account_with_grant(relay, key, "cut@example.org")
    connect_device(relay, acct, "d1")
    sid = new_sid()
    relay.router.message("d1", json.dumps({"t": "open", "sid": sid, "rid": key.rid, "hs": "aGk"}))
    assert relay.router.recorder_disabled(key.rid) == 1
    assert last(sender, "d1") == {"t": "close", "sid": sid, "reason": "revoked"}
    assert sender.closed == ["r1"]
    relay.router.disconnect("r1")
    with pytest.raises(Forbidden):
        connect_recorder(relay, key, "r2")
    relay.router.message(
        "d1", json.dumps({"t": "open", "sid": new_sid(), "rid": key.rid, "hs": "aGk"})
    )
    assert last(sender, "d1")["code"] == "offline"
