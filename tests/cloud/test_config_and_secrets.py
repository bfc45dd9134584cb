"""Relay settings parsed once and strictly; the signing key generated 0600, never in code."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from cloud.chalicelib.config import PREFIX, ConfigError, RelayConfig, load_config
from cloud.chalicelib.signing_keys import FileSecret


def test_settings_parse_and_reject_unknown_names() -> None:
    config = load_config(
        {"SKYCAM_RELAY_OPEN_SIGNUP": "true", "SKYCAM_RELAY_TICKET_S": "12", "PATH": "/bin"}
    )
    assert config == RelayConfig(open_signup=True, ticket_s=12)
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config({"SKYCAM_RELAY_OPEN_SINGUP": "true"})
    with pytest.raises(ConfigError, match="integer"):
        load_config({"SKYCAM_RELAY_TICKET_S": "soon"})
    with pytest.raises(ConfigError, match="positive"):
        load_config({"SKYCAM_RELAY_TICKET_S": "0"})
    with pytest.raises(ConfigError, match="DATA_DIR"):
        load_config({"SKYCAM_RELAY_STORAGE": "local"})
    with pytest.raises(ConfigError, match="WEBSOCKET_URL"):
        load_config({"SKYCAM_RELAY_WEBSOCKET_URL": "https://abc.example/api"})
    wss = "wss://abc.execute-api.eu-west-1.amazonaws.com/api"
    assert load_config({"SKYCAM_RELAY_WEBSOCKET_URL": wss}).websocket_url == wss


def test_signing_key_file_is_generated_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "relay" / "signing.key"
    key = FileSecret(path).signing_key()
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert FileSecret(path).signing_key() == key  # a restart keeps tokens valid
    other = FileSecret(tmp_path / "other.key").signing_key()
    assert other != key


def test_every_setting_is_documented_in_the_relay_reference() -> None:
    """docs/ref/relay.md's settings table names each `SKYCAM_RELAY_*` the relay reads."""
    reference = (Path(__file__).resolve().parents[2] / "docs" / "ref" / "relay.md").read_text()
    missing = [
        f.name for f in fields(RelayConfig) if f"| `{PREFIX}{f.name.upper()}` |" not in reference
    ]
    assert missing == []
