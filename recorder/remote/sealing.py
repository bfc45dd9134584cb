"""Objects sealed for remote media: AES-256-GCM (WebCrypto's `AES-GCM` in the browser).

    object = b"SKM1" || nonce (12 random bytes) || ciphertext || tag (16 bytes)

The associated data binds each object to its place, so a store that swaps, renames or moves
objects is caught by the tag:

    media session object:  b"skycam-media/1\\x00" + MSID + b"\\x00" + NAME   (ASCII)
    event thumbnail:       b"skycam-thumb/1\\x00" + OBJECT_KEY                (ASCII)

A media session has one random 32-byte key, made by the recorder and given to the device only
inside the sealed channel. A thumbnail's key is derived from the recorder's media secret and its
object key (HKDF-SHA256), so the recorder keeps no table of keys and a device learns the key of
each thumbnail it may see, never the secret. Random 96-bit nonces: a key seals at most a few
hundred thousand objects, far below GCM's 2^32 bound.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recorder.accounts.secrets import load_or_create_secret
from recorder.remote.errors import SealError

MAGIC = b"SKM1"
NONCE_BYTES = 12
KEY_BYTES = 32
OVERHEAD = len(MAGIC) + NONCE_BYTES + 16


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def media_aad(msid: str, name: str) -> bytes:
    return b"skycam-media/1\x00" + msid.encode("ascii") + b"\x00" + name.encode("ascii")


def thumbnail_aad(object_key: str) -> bytes:
    return b"skycam-thumb/1\x00" + object_key.encode("ascii")


def seal(key: bytes, aad: bytes, plaintext: bytes, nonce: bytes | None = None) -> bytes:
    """`nonce` is for test vectors only: leave it None."""
    nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, aad: bytes, sealed: bytes) -> bytes:
    if len(sealed) < OVERHEAD or not sealed.startswith(MAGIC):
        raise SealError("not a sealed media object")
    nonce = sealed[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[len(MAGIC) + NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise SealError("the object does not authenticate with this key and name") from exc


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaSecret:
    """The recorder's media secret (32 random bytes, 0600 file): thumbnail keys and opaque
    camera keys derive from it."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError("the media secret must be at least 32 bytes")
        self._secret = secret

    @classmethod
    def load_or_create(cls, path: Path) -> MediaSecret:
        return cls(load_or_create_secret(path))

    def camera_key(self, camera_id: str) -> str:
        """An opaque, stable name for a camera in object keys (no camera id in clear)."""
        mac = hmac.new(self._secret, b"skycam-camera/1\x00" + camera_id.encode(), hashlib.sha256)
        return b64url(mac.digest()[:12])

    def thumbnail_key(self, object_key: str) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"skycam-thumb-key/1\x00" + object_key.encode("ascii"),
        ).derive(self._secret)
