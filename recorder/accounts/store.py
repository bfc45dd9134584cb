"""Local users and their per-camera rights, in the site database."""

from __future__ import annotations

import asyncio
import re
import sqlite3

from recorder.accounts.model import Right, Role, User, effective_rights
from recorder.accounts.passwords import (
    check_strength,
    dummy_hash,
    hash_password,
    verify_password,
)
from recorder.accounts.revocation import AccessChange, AccessSignal, ChangeKind
from recorder.clock import Clock
from recorder.errors import Conflict, InvalidRequest, NotFound
from recorder.site_db import SiteDatabase

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _parse_rights(text: str) -> frozenset[Right]:
    return frozenset(Right(part) for part in text.split(",") if part)


class AccountStore:
    def __init__(self, db: SiteDatabase, clock: Clock, signal: AccessSignal | None = None) -> None:
        self._db = db
        self._clock = clock
        self.signal = signal or AccessSignal()

    def _changed(self, user_id: int) -> None:
        self.signal.announce(AccessChange(ChangeKind.USER_CHANGED, user_id=user_id))

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def count(self) -> int:
        async with self._db.conn.execute("SELECT COUNT(*) FROM users") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def create(self, username: str, password: str, role: Role) -> User:
        if not USERNAME_RE.match(username):
            raise InvalidRequest(
                "username: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                "or digit"
            )
        if reason := check_strength(password):
            raise InvalidRequest(reason)
        digest = await asyncio.to_thread(hash_password, password)
        now = self._now_ms()
        try:
            cursor = await self._db.conn.execute(
                "INSERT INTO users (username, password_hash, role, created_ms, "
                "password_changed_ms) VALUES (?, ?, ?, ?, ?)",
                (username, digest, role.value, now, now),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"user {username!r} already exists") from None
        user_id = cursor.lastrowid
        assert user_id is not None
        return User(user_id, username, role, False, now, {})

    async def get(self, user_id: int) -> User:
        async with self._db.conn.execute(
            "SELECT id, username, role, disabled, created_ms FROM users WHERE id = ?", (user_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return await self._with_rights(row)

    async def find(self, username: str) -> User | None:
        async with self._db.conn.execute(
            "SELECT id, username, role, disabled, created_ms FROM users WHERE username = ?",
            (username,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else await self._with_rights(row)

    async def all(self) -> list[User]:
        async with self._db.conn.execute(
            "SELECT id, username, role, disabled, created_ms FROM users ORDER BY id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [await self._with_rights(row) for row in rows]

    async def _with_rights(self, row: sqlite3.Row | tuple[object, ...]) -> User:
        user_id, username, role_text, disabled, created_ms = row
        role = Role(str(role_text))
        async with self._db.conn.execute(
            "SELECT camera_id, rights FROM camera_rights WHERE user_id = ?", (user_id,)
        ) as cursor:
            grants = await cursor.fetchall()
        rights = {
            str(cam): effective_rights(role, _parse_rights(str(text))) for cam, text in grants
        }
        return User(
            int(str(user_id)), str(username), role, bool(disabled), int(str(created_ms)), rights
        )

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account enabled. Takes the same time
        whether or not the user exists."""
        async with self._db.conn.execute(
            "SELECT id, password_hash, disabled FROM users WHERE username = ?", (username,)
        ) as cursor:
            row = await cursor.fetchone()
        stored = str(row[1]) if row else await asyncio.to_thread(dummy_hash)
        ok = await asyncio.to_thread(verify_password, stored, password)
        if row is None or not ok or row[2]:
            return None
        return await self.get(int(row[0]))

    async def update(
        self, user_id: int, *, role: Role | None = None, disabled: bool | None = None
    ) -> User:
        user = await self.get(user_id)
        if user.role is Role.ADMIN and (role not in (None, Role.ADMIN) or disabled):
            await self._keep_an_admin(user_id)
        if role is not None:
            await self._db.conn.execute(
                "UPDATE users SET role = ? WHERE id = ?", (role.value, user_id)
            )
        if disabled is not None:
            await self._db.conn.execute(
                "UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id)
            )
        self._changed(user_id)
        return await self.get(user_id)

    async def set_password(self, user_id: int, password: str) -> None:
        await self.get(user_id)
        if reason := check_strength(password):
            raise InvalidRequest(reason)
        digest = await asyncio.to_thread(hash_password, password)
        await self._db.conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_ms = ? WHERE id = ?",
            (digest, self._now_ms(), user_id),
        )

    async def delete(self, user_id: int) -> None:
        user = await self.get(user_id)
        if user.role is Role.ADMIN:
            await self._keep_an_admin(user_id)
        await self._db.conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        self._changed(user_id)

    async def set_rights(self, user_id: int, camera_id: str, rights: frozenset[Right]) -> User:
        user = await self.get(user_id)
        if not rights:
            await self._db.conn.execute(
                "DELETE FROM camera_rights WHERE user_id = ? AND camera_id = ?",
                (user_id, camera_id),
            )
        else:
            beyond = rights - effective_rights(user.role, rights)
            if beyond:
                names = ", ".join(sorted(r.value for r in beyond))
                raise InvalidRequest(f"a {user.role.value} cannot have: {names}")
            await self._db.conn.execute(
                "INSERT INTO camera_rights (user_id, camera_id, rights) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, camera_id) DO UPDATE SET rights = excluded.rights",
                (user_id, camera_id, ",".join(sorted(r.value for r in rights))),
            )
        self._changed(user_id)
        return await self.get(user_id)

    async def forget_camera(self, camera_id: str) -> None:
        await self._db.conn.execute("DELETE FROM camera_rights WHERE camera_id = ?", (camera_id,))
        self.signal.announce(AccessChange(ChangeKind.CAMERA_REMOVED, camera_id=camera_id))

    async def _keep_an_admin(self, user_id: int) -> None:
        async with self._db.conn.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?",
            (user_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if not row or int(row[0]) == 0:
            raise Conflict("this is the last enabled admin: create another admin first")
