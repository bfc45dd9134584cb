"""`skycam user`: manage the recorder's local users from the shell (works while it runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="recorder TOML config file")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list users")
    reset = sub.add_parser("reset-password", help="set a new random password and print it")
    reset.add_argument("username")
    add = sub.add_parser("add", help="add a user with a random password (printed once)")
    add.add_argument("username")
    add.add_argument("--role", choices=["admin", "operator", "viewer"], default="viewer")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from recorder.config import load_config
    from recorder.errors import RecorderError

    try:
        config = load_config(args.config)
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        print(asyncio.run(_run(config.data_dir, args)))
    except RecorderError as exc:
        print(f"skycam user: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(data_dir: Path, args: argparse.Namespace) -> str:
    from recorder.accounts.model import Role
    from recorder.accounts.passwords import generate_password
    from recorder.accounts.store import AccountStore
    from recorder.accounts.tokens import end_sessions_of
    from recorder.clock import SystemClock
    from recorder.errors import NotFound
    from recorder.site import Site
    from recorder.site_db import SiteDatabase

    async with SiteDatabase(Site(data_dir).site_db) as db:
        accounts = AccountStore(db, SystemClock())
        if args.action == "list":
            users = await accounts.all()
            return (
                "\n".join(
                    f"{u.id:>4}  {u.username:<24} {u.role.value:<9}"
                    + ("  disabled" if u.disabled else "")
                    for u in users
                )
                or "(no users yet: the recorder creates 'admin' on first start)"
            )
        password = generate_password()
        if args.action == "add":
            await accounts.create(args.username, password, Role(args.role))
            return f"user {args.username!r} ({args.role}) created; password: {password}"
        user = await accounts.find(args.username)
        if user is None:
            if args.username == "admin" and await accounts.count() == 0:
                await accounts.create("admin", password, Role.ADMIN)
                return f"password of 'admin': {password}"
            raise NotFound(f"no user {args.username!r}")
        await accounts.set_password(user.id, password)
        # A reset is usually a response to a leak: end every session of that user.
        await end_sessions_of(db, SystemClock(), user.id)
        return f"password of {user.username!r}: {password}"
