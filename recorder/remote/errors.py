"""Remote media's errors. Route handlers turn them into the API's 4xx/503 answers."""

from __future__ import annotations

from recorder.errors import RecorderError


class RemoteMediaError(RecorderError):
    """Base class of remote media's errors."""


class SealError(RemoteMediaError):
    """An object does not decrypt: wrong key, wrong name, tampered, or not ours."""


class UploadFailed(RemoteMediaError):
    """The object store refused an upload or could not be reached."""


class RightsRefused(RemoteMediaError):
    """The relay refused upload rights (no grant, session ended, relay away)."""

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.code = code  # the relay's error code (no_grant, not_found...), "" if unreachable
