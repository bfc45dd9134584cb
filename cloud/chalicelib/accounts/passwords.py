"""argon2id password hashes (libsodium through PyNaCl), at libsodium's interactive cost."""

from __future__ import annotations

import secrets

import nacl.exceptions
import nacl.pwhash

MIN_LENGTH = 10
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    digest: bytes = nacl.pwhash.argon2id.str(password.encode())
    return digest.decode()


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(nacl.pwhash.verify(stored.encode(), password.encode()))
    except nacl.exceptions.InvalidkeyError:
        return False


_DUMMY = hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend a verification's time when there is no account, so timing does not tell which
    emails have accounts."""
    verify_password(_DUMMY, password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)
