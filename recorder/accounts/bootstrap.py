"""First start: create an admin with a random password, shown once."""

from __future__ import annotations

from recorder.accounts.model import Role
from recorder.accounts.passwords import generate_password
from recorder.accounts.store import AccountStore

FIRST_ADMIN = "admin"


async def ensure_first_admin(accounts: AccountStore) -> str | None:
    """Create the first admin if there are no users; return its password (else None)."""
    if await accounts.count() > 0:
        return None
    password = generate_password()
    await accounts.create(FIRST_ADMIN, password, Role.ADMIN)
    return password
