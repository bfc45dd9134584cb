"""Checking a webhook's signature: HMAC-SHA256 over the timestamp and the body, fresh, once.

The sender signs `<timestamp>.<body>`: the decimal Unix time in seconds it sends in
`X-SkyCam-Timestamp`, a full stop, then the request body's exact bytes. It sends
`X-SkyCam-Signature: sha256=<hex digest>`. A request is refused when its timestamp is more than
`TOLERANCE_S` from the recorder's clock (stale, or from a badly set clock), when the digest does
not match (compared in constant time), or when the same signature was already accepted within
the tolerance window (a replay). Signing the timestamp with the body is what makes the window
hold: a captured request cannot be re-sent later with a new timestamp.

`verify` is the pure part: it says which signature to remember and until when. The
integration store remembers accepted signatures in the site database for the window only
(`IntegrationStore.accept_once`), so a restart does not reopen a replay; when it holds
`MAX_REMEMBERED` unexpired entries new requests are refused (429) rather than an entry
forgotten early.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from recorder.errors import NotAuthenticated

TOLERANCE_S = 300
MAX_REMEMBERED = 10_000
SCHEME = "sha256="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-SkyCam-Signature` value for a request (what a sender computes)."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: what to remember, and until when (Unix s)."""

    replay_key: str
    forget_at: float


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    scope: str,
) -> Signed:
    """Raise NotAuthenticated unless the request is signed with `secret` and fresh; the caller
    must then accept the returned key once (a second acceptance is a replay). `scope` (the
    integration's name) keeps the replay keys of integrations apart."""
    if not timestamp_header or not signature_header:
        raise NotAuthenticated("missing X-SkyCam-Timestamp or X-SkyCam-Signature")
    text = timestamp_header.strip()
    if not text.isdigit() or len(text) > 12:
        raise NotAuthenticated("X-SkyCam-Timestamp: expected Unix seconds")
    timestamp = int(text)
    if abs(now - timestamp) > TOLERANCE_S:
        raise NotAuthenticated(
            f"stale or future timestamp: more than {TOLERANCE_S} s from the recorder's clock"
        )
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().encode()):
        raise NotAuthenticated("bad signature")
    # Entries outlive the window of the timestamp they were signed with, never less. The key is
    # a digest of the signature: what is stored could not be presented as one.
    digest = hashlib.sha256(f"{scope}:{expected}".encode()).hexdigest()
    return Signed(digest, timestamp + TOLERANCE_S + 1)
