"""Shapes of the ids that cross the wire, checked before they become storage keys."""

from __future__ import annotations

import base64
import binascii
import re

from .errors import BadRequest

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_RID = re.compile(r"^[a-z2-7]{26}$")


def b64url_decode(value: str, what: str) -> bytes:
    if not isinstance(value, str) or not _TOKEN.match(value.rstrip("=") or "x"):
        raise BadRequest(f"{what} must be base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{what} must be base64url") from exc


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_id(value: object, what: str) -> str:
    """An opaque id chosen by a client (invitation id, account id, ticket): 8-128 base64url
    characters."""
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise BadRequest(f"{what} must be 8-128 base64url characters")
    return value


def recorder_id(value: object) -> str:
    """26 lowercase base32 characters: the first 16 bytes of SHA-256 of the recorder's key."""
    if not isinstance(value, str) or not _RID.match(value):
        raise BadRequest("recorder_id must be 26 lowercase base32 characters")
    return value


def session_id(value: object) -> str:
    if not isinstance(value, str) or len(value) != 22 or len(b64url_decode(value, "sid")) != 16:
        raise BadRequest("sid must be 16 bytes, base64url without padding")
    return value
