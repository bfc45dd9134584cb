"""A recorder is its Ed25519 key: RID = lowercase base32 (no padding) of the first 16 bytes of
SHA-256(public key). A connect proves the key by signing a fresh relay nonce
(docs/ref/tunnel.md)."""

from __future__ import annotations

import base64
import hashlib

import nacl.exceptions
import nacl.signing

from ..errors import Forbidden
from ..ids import b64url_decode

CONNECT_CONTEXT = b"skycam-relay-connect/1\x00"


def recorder_id_for(public_key: bytes) -> str:
    digest = hashlib.sha256(public_key).digest()[:16]
    return base64.b32encode(digest).decode().rstrip("=").lower()


def connect_message(rid: str, nonce: str) -> bytes:
    return CONNECT_CONTEXT + rid.encode("ascii") + b"\x00" + nonce.encode("ascii")


def verify_connect(rid: str, pk_b64: object, nonce: str, sig_b64: object) -> bytes:
    """The recorder's public key, if it matches the RID and signed this nonce."""
    public_key = b64url_decode(str(pk_b64), "pk") if isinstance(pk_b64, str) else b""
    if len(public_key) != 32 or recorder_id_for(public_key) != rid:
        raise Forbidden("public key does not match the recorder id")
    signature = b64url_decode(sig_b64, "sig") if isinstance(sig_b64, str) else b""
    try:
        nacl.signing.VerifyKey(public_key).verify(connect_message(rid, nonce), signature)
    except (nacl.exceptions.BadSignatureError, ValueError) as exc:
        raise Forbidden("bad signature") from exc
    return public_key
