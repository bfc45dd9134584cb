"""`skycam invite --config FILE --user NAME`: an invitation link and its QR code, for a device
to enrol remotely as that recorder user (works while the recorder runs).

The running recorder registers the invitation id with the relay within `[relay]
invitation_sync_s`; the link's secret stays in the link (and the recorder's 0600 database).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="recorder TOML config file")
    parser.add_argument("--user", required=True, help="the recorder user the device acts as")
    parser.add_argument("--no-qr", action="store_true", help="print the link only")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from recorder.config import load_config
    from recorder.errors import RecorderError

    try:
        config = load_config(args.config)
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        print(asyncio.run(_invite(config, args.user, qr=not args.no_qr)))
    except RecorderError as exc:
        print(f"skycam invite: {exc}", file=sys.stderr)
        return 1
    return 0


async def _invite(config: object, username: str, *, qr: bool) -> str:
    import io

    import segno

    from recorder.accounts.store import AccountStore
    from recorder.clock import SystemClock
    from recorder.config import RecorderConfig
    from recorder.errors import Conflict, NotFound
    from recorder.site import Site
    from recorder.site_db import SiteDatabase
    from recorder.tunnel.identity import RecorderIdentity
    from recorder.tunnel.invitations import InvitationStore
    from recorder.tunnel.service import make_invitation_link

    assert isinstance(config, RecorderConfig)
    if not config.relay.url:
        raise Conflict("no relay configured: set [relay] url in the config file first")
    identity = RecorderIdentity.load_or_create(Site(config.data_dir).secrets)
    clock = SystemClock()
    async with SiteDatabase(Site(config.data_dir).site_db) as db:
        user = await AccountStore(db, clock).find(username)
        if user is None:
            raise NotFound(f"no user {username!r} (see `skycam user list`)")
        invitation, secret = await InvitationStore(db, clock).create(
            user.id, "cli", config.relay.invitation_ttl_s
        )
    link = make_invitation_link(config.relay, identity, invitation, secret)
    hours = config.relay.invitation_ttl_s / 3600
    lines = [
        f"Invitation for {user.username!r} ({user.role.value}), single use, valid {hours:g} h:",
        "",
        link,
    ]
    if qr:
        out = io.StringIO()
        segno.make(link, error="l").terminal(out=out, compact=True)
        lines += ["", out.getvalue()]
    return "\n".join(lines)
