"""The relay's one error hierarchy. Each carries the HTTP status a REST route answers with and,
for the WebSocket protocol, the error code of docs/ref/tunnel.md."""

from __future__ import annotations


class RelayError(Exception):
    status = 500
    code = "internal"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(RelayError):
    status = 400
    code = "bad_request"


class Unauthorized(RelayError):
    status = 401
    code = "unauthorized"


class Forbidden(RelayError):
    status = 403
    code = "forbidden"


class NoGrant(Forbidden):
    code = "no_grant"


class Revoked(Forbidden):
    code = "revoked"


class NotFound(RelayError):
    status = 404
    code = "not_found"


class UnknownSession(NotFound):
    code = "unknown_session"


class Offline(NotFound):
    code = "offline"

    def __init__(self, reason: str, last_seen: int | None = None) -> None:
        super().__init__(reason)
        self.last_seen = last_seen  # epoch seconds the recorder was last heard from


class Conflict(RelayError):
    status = 409
    code = "conflict"


class RateLimited(RelayError):
    status = 429
    code = "rate_limited"


class StorageError(RelayError):
    """A storage backend failed (not the caller's fault)."""

    status = 503
    code = "storage"


class Gone(RelayError):
    """The WebSocket connection a message was for no longer exists."""

    status = 410
    code = "gone"
