"""The tunnel's error hierarchy (a branch of the recorder's)."""

from __future__ import annotations

from recorder.errors import RecorderError, RelayLinkDown


class TunnelError(RecorderError):
    """Base class of the tunnel's errors."""


class ChannelError(TunnelError):
    """A sealed message or handshake was refused: the peer or the relay misbehaved."""


class HandshakeFailed(ChannelError):
    """The Noise handshake did not complete (wrong key, tampered or spliced message)."""


class MessageRefused(ChannelError):
    """A transport message was refused: forged, tampered, replayed or too far ahead."""


class FramingError(TunnelError):
    """A plaintext does not follow the framing (docs/ref/tunnel.md), or a call is too large."""


class RelayUnavailable(TunnelError, RelayLinkDown):
    """The relay could not be reached or refused the connection; retried with backoff."""


class RelayRefused(RelayUnavailable):
    """The relay answered with an error for a message we sent (the code says why)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"relay refused: {code}: {reason}")
        self.code = code
        self.reason = reason


class EnrollmentFailed(TunnelError):
    """An invitation could not be used: unknown, used, expired, revoked, or a bad proof."""
