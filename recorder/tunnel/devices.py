"""Enrolled devices: a Noise static public key bound to a recorder user and a cloud account.

A device's rights are its user's per-camera rights, looked up on every call. Revoking a device
marks it (the key can never enrol again); the tunnel then closes its sessions at once and, when
its account has no device left, tells the relay to revoke the account's grant.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from recorder.clock import Clock
from recorder.errors import NotFound
from recorder.site_db import SiteDatabase
from recorder.tunnel.errors import EnrollmentFailed
from recorder.tunnel.identity import b64url


@dataclass(frozen=True)
class Device:
    id: int
    public_key: str  # base64url of the X25519 static public key
    user_id: int
    username: str
    account: str
    invitation: str
    created_ms: int
    last_seen_ms: int | None
    revoked_ms: int | None

    @property
    def live(self) -> bool:
        return self.revoked_ms is None


_SELECT = (
    "SELECT d.id, d.public_key, d.user_id, u.username, d.account, d.invitation, d.created_ms, "
    "d.last_seen_ms, d.revoked_ms FROM tunnel_devices d JOIN users u ON u.id = d.user_id "
)


def _row(row: tuple[object, ...]) -> Device:
    id_, key, user_id, username, account, invitation, created, seen, revoked = row
    return Device(
        int(str(id_)), str(key), int(str(user_id)), str(username), str(account), str(invitation),
        int(str(created)), None if seen is None else int(str(seen)),
        None if revoked is None else int(str(revoked)),
    )  # fmt: skip


class DeviceStore:
    def __init__(self, db: SiteDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def bind(self, public_key: bytes, user_id: int, account: str, invitation: str) -> Device:
        try:
            cursor = await self._db.conn.execute(
                "INSERT INTO tunnel_devices (public_key, user_id, account, invitation, "
                "created_ms) VALUES (?, ?, ?, ?, ?)",
                (b64url(public_key), user_id, account, invitation, self._now_ms()),
            )
        except sqlite3.IntegrityError:
            raise EnrollmentFailed("this device key is already enrolled or was revoked") from None
        assert cursor.lastrowid is not None
        return await self.get(cursor.lastrowid)

    async def get(self, device_id: int) -> Device:
        async with self._db.conn.execute(_SELECT + "WHERE d.id = ?", (device_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no device {device_id}")
        return _row(tuple(row))

    async def by_key(self, public_key: bytes) -> Device | None:
        async with self._db.conn.execute(
            _SELECT + "WHERE d.public_key = ?", (b64url(public_key),)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _row(tuple(row))

    async def all(self) -> list[Device]:
        async with self._db.conn.execute(_SELECT + "ORDER BY d.id") as cursor:
            rows = await cursor.fetchall()
        return [_row(tuple(row)) for row in rows]

    async def of_user(self, user_id: int) -> list[Device]:
        return [d for d in await self.all() if d.user_id == user_id and d.live]

    async def account_has_live_device(self, account: str) -> bool:
        async with self._db.conn.execute(
            "SELECT 1 FROM tunnel_devices WHERE account = ? AND revoked_ms IS NULL LIMIT 1",
            (account,),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def touch(self, device_id: int) -> None:
        await self._db.conn.execute(
            "UPDATE tunnel_devices SET last_seen_ms = ? WHERE id = ?", (self._now_ms(), device_id)
        )

    async def revoke(self, device_id: int) -> Device:
        await self.get(device_id)
        await self._db.conn.execute(
            "UPDATE tunnel_devices SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (self._now_ms(), device_id),
        )
        return await self.get(device_id)
