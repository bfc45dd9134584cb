"""The relay's VAPID key (RFC 8292): made once, never logged or returned; only the public key
leaves this module. AWS: the Secrets Manager secret infra/ fills at deploy time (a KMS-made
P-256 pair, `{"private_key_pem", "public_key_pem"}`); local host: a PEM file generated on
first start, 0600.

Browsers of a recorder that has a relay subscribe with this public key, so the relay, not the
recorder, signs each push request; the body stays the recorder's ciphertext.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import StorageError
from ..signing_keys import secret_file

TOKEN_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 h
REUSE_S = 3600  # one token per push origin for an hour


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class VapidSource(Protocol):
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The P-256 private key, the same on every call and every instance."""


class FileVapid:
    def __init__(self, path: Path) -> None:
        self._path = path

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        def make() -> bytes:
            return ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        return _p256(secret_file(self._path, make))


class SecretsManagerVapid:
    def __init__(self, client: Any, secret_id: str) -> None:
        self._client = client
        self._id = secret_id

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            value = self._client.get_secret_value(SecretId=self._id)["SecretString"]
            pem = json.loads(value)["private_key_pem"]
        except (ClientError, BotoCoreError, KeyError, ValueError, TypeError) as exc:
            raise StorageError(f"cannot read the VAPID secret: {type(exc).__name__}") from exc
        return _p256(str(pem).encode())


def _p256(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise StorageError("the VAPID key is not a PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise StorageError("the VAPID key is not a P-256 key")
    return key


class VapidSigner:
    """Signs push requests; the key is read once, on first use (a Lambda reads its secret at
    most once per instance)."""

    def __init__(self, source: VapidSource, subject: str) -> None:
        self._source = source
        self._subject = subject
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._public = ""
        self._tokens: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _loaded(self) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            if self._key is None:
                key = self._source.private_key()
                raw = key.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
                self._key, self._public = key, _b64url(raw)
            return self._key

    @property
    def public_key(self) -> str:
        """base64url of the uncompressed point: PushManager.subscribe's applicationServerKey."""
        self._loaded()
        return self._public

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """`vapid t=JWT, k=PUBLIC_KEY` for a request to `endpoint`'s push service."""
        key = self._loaded()
        now = time.time() if now is None else now
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._tokens.get(audience)
            if cached is not None and now - cached[0] < REUSE_S:
                return cached[1]
        claims = {"aud": audience, "exp": int(now) + TOKEN_LIFETIME_S, "sub": self._subject}
        token = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "JWT"})
        value = f"vapid t={token}, k={self._public}"
        with self._lock:
            self._tokens[audience] = (now, value)
        return value

    def __repr__(self) -> str:  # never the private key, even in a traceback
        return "VapidSigner()"
