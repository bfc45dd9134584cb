"""Checking a webhook's signature: HMAC-SHA256 over the timestamp and the body, fresh, once.

The sender signs `<timestamp>.<body>`: the decimal Unix time in seconds it sends in
`X-SkyCam-Timestamp`, a full stop, then the request body's exact bytes. It sends
`X-SkyCam-Signature: sha256=<hex digest>`. A request is refused when its timestamp is more than
`TOLERANCE_S` from the recorder's clock (stale, or from a badly set clock), when the digest does
not match (compared in constant time), or when the same signature was already accepted within
the tolerance window (a replay). Signing the timestamp with the body is what makes the window
hold: a captured request cannot be re-sent later with a new timestamp.

Accepted signatures are remembered for the window only, in a bounded cache; when it is full of
unexpired entries, new requests are refused (429) rather than an entry forgotten early, which
would reopen a replay. A restart empties it: a request captured less than `TOLERANCE_S` before
a restart could be replayed once after it, a limit written in docs/design/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict

from recorder.errors import NotAuthenticated, TooManyAttempts

TOLERANCE_S = 300
MAX_REMEMBERED = 10_000
SCHEME = "sha256="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-SkyCam-Signature` value for a request (what a sender computes)."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class ReplayCache:
    """Signatures accepted within the tolerance window, oldest first."""

    def __init__(self, max_entries: int = MAX_REMEMBERED) -> None:
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> forget after (s)

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, key: str, now: float, forget_at: float) -> bool:
        """Note `key`; False if it was already there (a replay)."""
        while self._seen:
            oldest, until = next(iter(self._seen.items()))
            if until > now:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        if len(self._seen) >= self._max:
            raise TooManyAttempts("too many webhook requests: try again in a minute", 60)
        self._seen[key] = forget_at
        return True


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    replays: ReplayCache,
    scope: str,
) -> None:
    """Raise NotAuthenticated unless the request is signed with `secret`, fresh and new.
    `scope` (the integration's name) keeps the replay caches of integrations apart."""
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
    # Entries outlive the window of the timestamp they were signed with, never less.
    if not replays.remember(f"{scope}:{expected}", now, timestamp + TOLERANCE_S + 1):
        raise NotAuthenticated("replayed request: this signature was already used")
