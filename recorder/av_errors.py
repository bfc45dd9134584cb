"""PyAV's exceptions mapped to the recorder's, in one table (as httpx maps httpcore's).

Every adapter around PyAV (opening and reading streams, writing segments, copying them for
download) wraps its calls in `av_errors(action, default)`: the first row of `AV_ERRORS` that
the exception is an instance of says which `RecorderError` it becomes and what the user reads.
A row whose error is None becomes the caller's `default` (a `StreamError` when reading a
camera, a `SegmentError` when writing a file), and one whose reason is None keeps FFmpeg's own
message. `raise ... from` keeps the library's exception for the logs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import av.error

from recorder.errors import RecorderError, StreamTimeout, StreamUnusable

# Most specific first: PyAV's HTTP and connection errors are also FFmpegErrors and OSErrors.
AV_ERRORS: tuple[tuple[type[BaseException], type[RecorderError] | None, str | None], ...] = (
    # PyAV's interrupt callback ended a blocking call: its connect or read timeout fired.
    (av.error.ExitError, StreamTimeout, "no answer from the camera in time"),
    # The camera answers but will not stream to us: retrying alone will not fix it.
    (
        av.error.HTTPUnauthorizedError,
        StreamUnusable,
        "authentication failed (check user name and password)",
    ),
    (av.error.HTTPForbiddenError, StreamUnusable, "the camera refused access (403)"),
    (av.error.HTTPNotFoundError, StreamUnusable, "no stream at that path (404)"),
    (av.error.InvalidDataError, None, "the data is not valid media"),
    (ConnectionRefusedError, None, "connection refused"),
    (av.error.FFmpegError, None, None),
    (OSError, None, None),
    (ValueError, None, None),  # PyAV's own checks (a packet for a closed file, bad options)
)  # fmt: skip
CAUGHT = (av.error.FFmpegError, OSError, ValueError)


def translate(exc: BaseException, action: str, default: type[RecorderError]) -> RecorderError:
    """The recorder's error for a library exception: `<action>: <reason>`."""
    for library_type, ours, reason in AV_ERRORS:
        if isinstance(exc, library_type):
            text = reason or getattr(exc, "strerror", None) or str(exc)
            return (ours or default)(f"{action}: {text}")
    return default(f"{action}: {exc}")


@contextlib.contextmanager
def av_errors(action: str, default: type[RecorderError]) -> Iterator[None]:
    """Raise what PyAV raises inside as the recorder's error (see `AV_ERRORS`)."""
    try:
        yield
    except CAUGHT as exc:
        raise translate(exc, action, default) from exc
