"""Short-lived signed access tokens (JWT, HS256) and opaque single-use refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import jwt

from ..clock import Clock
from ..errors import Unauthorized
from ..signing_keys import SecretSource

ISSUER = "skycam-relay"


@dataclass(frozen=True)
class AccessClaims:
    acct: str
    role: str
    expires_at: int


class TokenSigner:
    def __init__(self, secrets_source: SecretSource, clock: Clock, ttl_s: int) -> None:
        self._secrets = secrets_source
        self._clock = clock
        self._ttl_s = ttl_s

    def issue(self, acct: str, role: str) -> tuple[str, int]:
        now = int(self._clock.now())
        claims: dict[str, str | int] = {"sub": acct, "role": role, "typ": "access"}
        claims |= {"iss": ISSUER, "iat": now, "exp": now + self._ttl_s}
        token = jwt.encode(claims, self._secrets.signing_key(), algorithm="HS256")
        return token, now + self._ttl_s

    def verify(self, token: str) -> AccessClaims:
        try:
            # Expiry is checked against our Clock below, not the library's wall clock.
            claims = jwt.decode(
                token,
                self._secrets.signing_key(),
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid access token") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token")
        expires_at = int(claims["exp"])
        if expires_at <= self._clock.now():
            raise Unauthorized("access token expired")
        return AccessClaims(
            acct=str(claims["sub"]), role=str(claims.get("role")), expires_at=expires_at
        )


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, the hash that is stored): a stolen table yields no tokens."""
    token = secrets.token_urlsafe(32)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
