"""The recorder's long-lived keys: Ed25519 to sign relay connects, X25519 as its Noise static.

Both are generated on first start with libsodium (PyNaCl) and kept in data_dir/secrets as 0600
files, created with O_EXCL so two starts cannot race. The private halves are never logged or
returned; the public keys and the recorder id (RID) may be shown anywhere.

RID (docs/ref/tunnel.md): lowercase base32, no padding, of the first 16 bytes of
SHA-256(Ed25519 public key). It is self-certifying: the relay registers the public key on first
contact and later contacts must present the same key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from recorder.accounts.secrets import load_or_create_secret
from recorder.site import RELAY_SIGNING_KEY, TUNNEL_STATIC_KEY

CONNECT_CONTEXT = b"skycam-relay-connect/1\x00"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def rid_of(signing_public: bytes) -> str:
    digest = hashlib.sha256(signing_public).digest()[:16]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def connect_message(rid: str, nonce: str) -> bytes:
    """What the recorder signs to open its relay connection (protocol: connect)."""
    return CONNECT_CONTEXT + rid.encode("ascii") + b"\x00" + nonce.encode("ascii")


@dataclass(frozen=True)
class RecorderIdentity:
    signing_key: SigningKey
    static_private: bytes  # X25519 private key for Noise (32 bytes)

    @classmethod
    def load_or_create(cls, secrets_dir: Path) -> RecorderIdentity:
        signing_seed = load_or_create_secret(secrets_dir / RELAY_SIGNING_KEY)[:32]
        static = load_or_create_secret(secrets_dir / TUNNEL_STATIC_KEY)[:32]
        return cls(SigningKey(signing_seed), static)

    @property
    def signing_public(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def static_public(self) -> bytes:
        return bytes(PrivateKey(self.static_private).public_key)

    @property
    def rid(self) -> str:
        return rid_of(self.signing_public)

    def sign_connect(self, nonce: str) -> str:
        """SIG for the connect URL: Ed25519 over the context, the RID and the relay's nonce."""
        return b64url(self.signing_key.sign(connect_message(self.rid, nonce)).signature)

    def __repr__(self) -> str:  # never print the private halves
        return f"RecorderIdentity(rid={self.rid!r})"
