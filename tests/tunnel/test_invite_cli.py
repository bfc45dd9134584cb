"""`skycam invite`: a link whose fragment names this recorder, and a QR code; nothing without
a relay or for an unknown user."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from recorder.clock import SystemClock
from recorder.site_db import SiteDatabase
from recorder.tunnel.identity import RecorderIdentity
from recorder.tunnel.invitations import InvitationLink, InvitationStore
from skycam.cli import main


def config(tmp_path: Path, relay: bool = True) -> Path:
    path = tmp_path / "recorder.toml"
    text = f'data_dir = "{tmp_path / "data"}"\n'
    if relay:
        text += '[relay]\nurl = "https://relay.example.test"\n'
    path.write_text(text)
    return path


def test_invite_prints_a_link_and_a_qr_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    assert main(["user", "--config", str(path), "add", "bob", "--role", "viewer"]) == 0
    capsys.readouterr()
    assert main(["invite", "--config", str(path), "--user", "bob"]) == 0
    out = capsys.readouterr().out
    link = next(line for line in out.splitlines() if line.startswith("https://"))
    assert "█" in out  # the terminal QR code
    parsed = InvitationLink.parse(link)
    assert link.startswith("https://relay.example.test/#/join?")  # all of it in the fragment
    secrets_dir = tmp_path / "data" / "secrets"
    identity = RecorderIdentity.load_or_create(secrets_dir)
    assert parsed.rid == identity.rid and parsed.recorder_static == identity.static_public
    for key in secrets_dir.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

    async def pending() -> list[str]:
        async with SiteDatabase(tmp_path / "data" / "site.sqlite3") as db:
            return [i.id for i in await InvitationStore(db, SystemClock()).unregistered()]

    assert asyncio.run(pending()) == [parsed.invitation]


def test_invite_needs_a_relay_and_a_known_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "--config", str(config(tmp_path, relay=False)), "--user", "x"]) == 1
    assert "no relay configured" in capsys.readouterr().err
    assert main(["invite", "--config", str(config(tmp_path)), "--user", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err
