"""The recorder's VAPID key (RFC 8292): made once, kept 0600, never logged or returned.

Browsers subscribe with the public key (`applicationServerKey`); every push request carries a
short-lived JWT signed with the private key, which tells the push service the request comes
from whoever the subscription was made for. Only the public key leaves this module.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

TOKEN_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 h
REUSE_S = 3600  # a token is reused per push origin for an hour, like Frigate


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class VapidKey:
    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self._vapid = vapid
        self._subject = subject
        self._tokens: dict[str, tuple[float, dict[str, str]]] = {}
        raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64url(raw)  # what PushManager.subscribe takes as applicationServerKey

    @classmethod
    def load_or_create(cls, path: Path, subject: str) -> VapidKey:
        """The key in `path` (PEM), created atomically with mode 0600 on first use."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(Vapid02.from_pem(path.read_bytes()), subject)
        vapid = Vapid02()
        vapid.generate_keys()
        try:
            os.write(fd, vapid.private_pem())
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(vapid, subject)

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """The `Authorization: vapid t=...,k=...` value for a request to `endpoint`."""
        now = time.time() if now is None else now
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        cached = self._tokens.get(audience)
        if cached is not None and now - cached[0] < REUSE_S:
            return cached[1]["Authorization"]
        claims = {"aud": audience, "exp": int(now) + TOKEN_LIFETIME_S, "sub": self._subject}
        headers: dict[str, str] = self._vapid.sign(claims)
        self._tokens[audience] = (now, headers)
        return headers["Authorization"]

    def __repr__(self) -> str:  # never the private key, even in a traceback
        return f"VapidKey(public_key={self.public_key!r})"
