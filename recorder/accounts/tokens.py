"""Short-lived access tokens and rotating, revocable refresh tokens.

Access tokens are JWTs (HS256, key generated at first start) that name the user and the login
session; they live 15 minutes and are checked against the session table on every request, so
logging out ends them at once. Refresh tokens are random, stored only as SHA-256 hashes, and
single-use: each refresh returns a new one. Presenting a used refresh token again means it was
stolen (or replayed): the whole session is revoked (OAuth 2.0 Security BCP, refresh rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import jwt

from recorder.accounts.revocation import AccessChange, AccessSignal, ChangeKind
from recorder.clock import Clock
from recorder.errors import NotAuthenticated
from recorder.site_db import SiteDatabase

ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    session_id: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(
        self,
        db: SiteDatabase,
        clock: Clock,
        signing_key: bytes,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 30 * 86400,
        signal: AccessSignal | None = None,
    ) -> None:
        self._db = db
        self.signal = signal or AccessSignal()
        self._clock = clock
        self._key = signing_key
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def start_session(self, user_id: int, client: str = "") -> TokenPair:
        session_id = secrets.token_urlsafe(16)
        now = self._now_ms()
        await self._db.conn.execute(
            "INSERT INTO sessions (id, user_id, created_ms, last_used_ms, client) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, user_id, now, now, client[:200]),
        )
        return await self._issue(user_id, session_id)

    async def _issue(self, user_id: int, session_id: str) -> TokenPair:
        now = self._clock.now()
        access = jwt.encode(
            {
                "sub": str(user_id),
                "sid": session_id,
                "iat": int(now),
                "exp": int(now) + self.access_ttl_s,
                "typ": "access",
            },
            self._key,
            algorithm=ALGORITHM,
        )
        refresh = secrets.token_urlsafe(32)
        await self._db.conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_ms, expires_ms) "
            "VALUES (?, ?, ?, ?)",
            (
                _hash(refresh),
                session_id,
                int(now * 1000),
                int(now * 1000) + self.refresh_ttl_s * 1000,
            ),
        )
        return TokenPair(access, refresh, self.access_ttl_s, session_id)

    async def verify_access(self, token: str) -> AccessClaims:
        claims = self.read_access(token)
        async with self._db.conn.execute(
            "SELECT revoked_ms FROM sessions WHERE id = ?", (claims.session_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] is not None:
            raise NotAuthenticated("session ended: log in again")
        return claims

    def read_access(self, token: str) -> AccessClaims:
        """The token's claims if its signature, type and expiry are good (no I/O: whether its
        session is still open is `verify_access`'s question)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                # Expiry is checked below against our Clock, not the system's.
                options={
                    "require": ["exp", "sub", "sid"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise NotAuthenticated("invalid access token") from None
        if int(claims["exp"]) <= self._clock.now() or claims.get("typ") != "access":
            raise NotAuthenticated("access token expired: refresh it")
        return AccessClaims(int(claims["sub"]), str(claims["sid"]))

    async def refresh(self, refresh_token: str) -> tuple[int, TokenPair]:
        """Trade a refresh token for a new pair; returns the user id too.

        The token is claimed by one conditional UPDATE (`used_ms IS NULL`): of any number of
        concurrent refreshes with it, exactly one changes the row and gets a pair; every other
        one finds it used, which is reuse, and ends the session (the winner's pair with it).
        """
        now = self._now_ms()
        conn = self._db.conn
        digest = _hash(refresh_token)
        async with conn.execute(
            "SELECT r.session_id, r.expires_ms, s.user_id, s.revoked_ms "
            "FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id "
            "WHERE r.token_hash = ?",
            (digest,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotAuthenticated("unknown refresh token")
        session_id, expires_ms, user_id, revoked_ms = row
        if revoked_ms is not None:
            raise NotAuthenticated("session ended: log in again")
        if int(expires_ms) <= now:
            raise NotAuthenticated("refresh token expired: log in again")
        claimed = await conn.execute(
            "UPDATE refresh_tokens SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL",
            (now, digest),
        )
        if claimed.rowcount != 1:
            await self.end_session(str(session_id))
            raise NotAuthenticated("refresh token reused: session revoked, log in again")
        await conn.execute("UPDATE sessions SET last_used_ms = ? WHERE id = ?", (now, session_id))
        return int(user_id), await self._issue(int(user_id), str(session_id))

    async def end_session(self, session_id: str) -> None:
        await self._db.conn.execute(
            "UPDATE sessions SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (self._now_ms(), session_id),
        )
        self.signal.announce(AccessChange(ChangeKind.SESSION_ENDED, session_id=session_id))

    async def end_sessions_of(self, user_id: int) -> None:
        await end_sessions_of(self._db, self._clock, user_id)
        self.signal.announce(AccessChange(ChangeKind.SESSIONS_ENDED, user_id=user_id))

    async def session_active(self, session_id: str) -> bool:
        """Whether the session exists and was not ended (long-lived connections re-check)."""
        async with self._db.conn.execute(
            "SELECT revoked_ms FROM sessions WHERE id = ?", (session_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return row is not None and row[0] is None

    async def session_of_refresh(self, refresh_token: str) -> str | None:
        async with self._db.conn.execute(
            "SELECT session_id FROM refresh_tokens WHERE token_hash = ?", (_hash(refresh_token),)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])


async def end_sessions_of(db: SiteDatabase, clock: Clock, user_id: int) -> None:
    """End every session of a user (password reset, account disabled)."""
    await db.conn.execute(
        "UPDATE sessions SET revoked_ms = ? WHERE user_id = ? AND revoked_ms IS NULL",
        (int(clock.now() * 1000), user_id),
    )
