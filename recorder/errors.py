"""The recorder's error hierarchy.

Adapters catch library exceptions (PyAV, sqlite3, OS errors) and re-raise one of these with
`raise ... from exc`, so callers handle a small, stable set and users read a clear message.
"""

from __future__ import annotations


class RecorderError(Exception):
    """Base class of every error the recorder raises on purpose."""


class ConfigError(RecorderError):
    """The configuration is invalid; the message names the offending field."""


class StreamError(RecorderError):
    """A camera stream could not be opened or read."""


class StreamTimeout(StreamError):
    """A camera stopped sending packets for longer than the read timeout."""


class StreamDiscontinuity(StreamError):
    """Timestamps jumped or went backwards: the current run must end here."""


class SegmentError(RecorderError):
    """A segment file could not be written, finished or validated."""


class IndexFailure(RecorderError):
    """The SQLite index failed (I/O, corruption, schema)."""


class SchemaTooNew(IndexFailure):
    """The index was written by a newer recorder; opening it could corrupt it, so we refuse."""


class IndexConflict(IndexFailure):
    """A write contradicts the index (duplicate path, unknown camera, impossible times).

    A caller bug or a race, not a broken disk: the message names the offending value."""


class RelayLinkDown(RecorderError):
    """The recorder's connection to its relay is down or did not answer in time. Declared here,
    not in the tunnel, so that domain packages (Web Push) can catch it without importing the
    tunnel, which sits above them."""


class StorageFull(RecorderError):
    """The circuit breaker is open: writing would fill the disk."""


class StorageUnavailable(RecorderError):
    """The recordings directory is missing while the index lists segments (disk not mounted?)."""


class StreamUnusable(StreamError):
    """The camera answers but its stream cannot be recorded (authentication, codec, garbage).

    Reported as an error state rather than offline: retrying alone will rarely fix it."""


class RequestError(RecorderError):
    """A client's request cannot be served; the API answers `status` with this message."""

    status = 400
    code = "bad_request"


class InvalidRequest(RequestError):
    status = 400
    code = "invalid"


class NotAuthenticated(RequestError):
    status = 401
    code = "not_authenticated"


class Forbidden(RequestError):
    status = 403
    code = "forbidden"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class Conflict(RequestError):
    status = 409
    code = "conflict"


class Unavailable(RequestError):
    """A part of the recorder the request needs is not running (503)."""

    status = 503
    code = "unavailable"


class PayloadTooLarge(RequestError):
    status = 413
    code = "too_large"


class TooManyAttempts(RequestError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EventStoreFailure(IndexFailure):
    """The events database failed (I/O, corruption, schema)."""


class EventQueryError(RecorderError):
    """An events query is out of bounds (page size, time range, cursor): the API answers 400
    with this message."""


class OnvifError(RecorderError):
    """An ONVIF device could not be reached or answered with a fault."""


class OnvifAuthError(OnvifError):
    """The ONVIF device refused the credentials (or our clock is too far from the camera's)."""


class OnvifUnsupported(OnvifError):
    """The device does not offer what was asked (PTZ, events, a media profile)."""


class OnvifRefused(OnvifError):
    """The device supports the request but refused it (a preset name it has already, no room
    for another preset, a preset token it does not know)."""


class DiscoveryError(OnvifError):
    """WS-Discovery could not probe the network (no usable interface, socket error)."""
