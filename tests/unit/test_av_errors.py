"""PyAV's exceptions become the recorder's, by one table."""

from __future__ import annotations

import av.error
import pytest

from recorder.av_errors import av_errors, translate
from recorder.errors import RecorderError, SegmentError, StreamError, StreamTimeout, StreamUnusable


@pytest.mark.parametrize(
    ("raised", "default", "expected", "message"),
    [
        (av.error.ExitError(-1414092869, "Immediate exit requested"), StreamError,
         StreamTimeout, "open: no answer from the camera in time"),
        (av.error.HTTPUnauthorizedError(-825242872, "Server returned 401 Unauthorized"),
         StreamError, StreamUnusable, "open: authentication failed"),
        (av.error.HTTPNotFoundError(-875574520, "Server returned 404 Not Found"), StreamError,
         StreamUnusable, "open: no stream at that path (404)"),
        (av.error.ConnectionRefusedError(111, "Connection refused"), StreamError, StreamError,
         "open: connection refused"),
        (av.error.InvalidDataError(-1094995529, "Invalid data found"), SegmentError,
         SegmentError, "open: the data is not valid media"),
        (av.error.OSError(5, "Input/output error"), SegmentError, SegmentError,
         "open: Input/output error"),
        (ValueError("packet stream is not in this container"), SegmentError, SegmentError,
         "open: packet stream is not in this container"),
    ],
)  # fmt: skip
def test_the_first_matching_row_names_the_error_and_the_reason(
    raised: Exception, default: type[RecorderError], expected: type[RecorderError], message: str
) -> None:
    error = translate(raised, "open", default)
    assert type(error) is expected
    assert str(error).startswith(message)


def test_the_context_raises_ours_from_theirs_and_lets_the_rest_through() -> None:
    with pytest.raises(StreamUnusable) as caught, av_errors("cannot open stream", StreamError):
        raise av.error.HTTPForbiddenError(-858797304, "Server returned 403 Forbidden")
    assert isinstance(caught.value.__cause__, av.error.HTTPForbiddenError)
    with pytest.raises(KeyError), av_errors("cannot open stream", StreamError):
        raise KeyError("a bug is not a camera failure")
