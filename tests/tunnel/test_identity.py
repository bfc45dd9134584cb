"""The recorder's keys and RID, and the [relay] config section."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from recorder.config import parse_config
from recorder.errors import ConfigError
from recorder.tunnel.identity import RecorderIdentity, connect_message, unb64url


def test_keys_are_made_once_kept_0600_and_the_rid_is_self_certifying(tmp_path: Path) -> None:
    first = RecorderIdentity.load_or_create(tmp_path)
    again = RecorderIdentity.load_or_create(tmp_path)
    assert first.rid == again.rid and first.static_public == again.static_public
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relay-ed25519.key", "tunnel-x25519.key"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())
    digest = hashlib.sha256(first.signing_public).digest()[:16]
    assert first.rid == base64.b32encode(digest).decode().rstrip("=").lower()
    assert len(first.rid) == 26 and first.rid.islower()
    assert "private" not in repr(first) and first.rid in repr(first)


def test_the_connect_signature_covers_the_rid_and_the_nonce(tmp_path: Path) -> None:
    identity = RecorderIdentity.load_or_create(tmp_path)
    signature = unb64url(identity.sign_connect("NONCE"))
    key = VerifyKey(identity.signing_public)
    key.verify(b"skycam-relay-connect/1\x00" + identity.rid.encode() + b"\x00NONCE", signature)
    with pytest.raises(BadSignatureError):
        key.verify(connect_message(identity.rid, "OTHER"), signature)


@pytest.mark.parametrize(
    ("relay", "message"),
    [
        ({"url": "ftp://relay"}, "relay.url: must be a http:// or https:// URL"),
        ({"url": "https://relay/#x"}, "relay.url: must not have a query or fragment"),
        ({"url": "https://relay", "ws_url": "https://relay"}, "relay.ws_url: must be a ws://"),
        ({"ws_url": "ws://relay"}, "ws_url needs url"),
        ({"heartbeat_s": 700}, "relay.heartbeat_s"),
        ({"colour": "blue"}, "relay.colour: unknown key"),
    ],
)
def test_bad_relay_config_is_refused_with_the_field_named(
    relay: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        parse_config({"data_dir": "/tmp/x", "relay": relay})


def test_relay_config_defaults() -> None:
    relay = parse_config({"data_dir": "/tmp/x", "relay": {"url": "https://r.example/"}}).relay
    assert relay.url == "https://r.example" and relay.heartbeat_s == 540
    assert relay.connection_max_s == 6600 and relay.invitation_ttl_s == 86_400
