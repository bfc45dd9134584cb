"""Password hashing with argon2id (libsodium through PyNaCl).

Hashes are self-describing strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so the cost can
be raised later without invalidating existing hashes. Hashing is deliberately slow (~0.1 s, 64
MiB): call these off the event loop.
"""

from __future__ import annotations

import secrets

import nacl.exceptions
import nacl.pwhash

MIN_LENGTH = 8
MAX_LENGTH = 256  # bounded so a request cannot make us hash megabytes


def check_strength(password: str) -> str | None:
    """A reason the password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must have at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    digest: bytes = nacl.pwhash.argon2id.str(
        password.encode(),
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    )
    return digest.decode("ascii")


def verify_password(stored: str, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return bool(nacl.pwhash.verify(stored.encode("ascii"), password.encode()))
    except nacl.exceptions.InvalidkeyError:
        return False


def generate_password() -> str:
    """A random password for first start and resets: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


# A hash to verify against when the user does not exist, so that the response time does not
# tell an attacker which user names are real.
_DUMMY: list[str] = []


def dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]
