"""Errors of the push package. Request-shaped ones are the API's `RequestError`s (4xx)."""

from __future__ import annotations

from recorder.errors import InvalidRequest, RecorderError


class PushError(RecorderError):
    """Base class of the push package's own failures."""


class BadSubscription(InvalidRequest):
    """A subscription the recorder refuses to store (a 422 with the reason)."""

    status = 422
    code = "invalid_subscription"


class PayloadTooBig(PushError):
    """A notification that would not fit a push message once encrypted."""


class RefusedAddress(PushError):
    """An endpoint whose host resolves to an address the recorder must not call."""
