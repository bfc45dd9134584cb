"""The remote bench's cost of a browser's viewer window (bench/remote_cost.py): what each count
is billed as, scaled from the window to an hour."""

from __future__ import annotations

import pytest

from bench.remote_cost import (
    LAMBDA_INVOCATION,
    PRICE_CLOUDFRONT_REQUEST,
    PRICE_EGRESS_GB,
    PRICE_S3_PUT,
    PRICE_WS_MESSAGE,
    browser_viewer_hour,
)

WINDOW = {
    "seconds": 30.0,
    "objects": 60,
    "object_bytes": 2_000_000,
    "links": 4,
    "rest": 1,
    "static": 0,
    "other_bytes": 10_000,
    "ws_sent": 5,
    "ws_received": 9,
    "ws_sent_bytes": 1_500,
    "ws_received_bytes": 40_000,
    "ws_sent_units": 5,
    "ws_received_units": 10,  # one message over 32 KB: two units
}


def test_a_window_is_scaled_to_an_hour_and_billed_per_kind() -> None:
    cost = browser_viewer_hour(WINDOW, uploads=70, upload_bytes=2_100_000)
    scale = 3600 / 30
    assert cost["s3_uploads"] == pytest.approx(70 * scale * PRICE_S3_PUT, abs=1e-5)
    assert cost["cloudfront_requests"] == pytest.approx(
        60 * scale * PRICE_CLOUDFRONT_REQUEST, abs=1e-5
    )
    # Every byte received from the relay leaves AWS: objects, REST answers, tunnel messages.
    received = 2_000_000 + 10_000 + 40_000
    assert cost["egress"] == pytest.approx(received * scale / 1e9 * PRICE_EGRESS_GB, abs=1e-5)
    # Each tunnel message crosses two connections (the browser's and the recorder's).
    assert cost["ws_messages"] == pytest.approx(2 * 15 * scale * PRICE_WS_MESSAGE, abs=1e-5)
    assert cost["lambda"] == pytest.approx((4 + 1 + 14) * scale * LAMBDA_INVOCATION, abs=1e-5)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"), abs=1e-4)


def test_the_same_rates_over_a_longer_window_cost_the_same_per_hour() -> None:
    doubled = {k: v * 2 for k, v in WINDOW.items()}
    assert browser_viewer_hour(doubled, 140, 4_200_000) == browser_viewer_hour(
        WINDOW, 70, 2_100_000
    )
