"""What one remote live viewer costs the relay's AWS account per hour (docs/ref/bench.md,
"Remote media"): counts from a watch window scaled to an hour, at the list prices below.

Two sources of counts: the Python reference client's own counters (`reference_viewer_hour`),
and what Chromium running the PWA asked of the relay, from Playwright's request and WebSocket
events (`browser_viewer_hour`). The recorder's uploads are counted by its uploader either way.
"""

from __future__ import annotations

from typing import Any

# AWS list prices (us-east-1, 2026), USD.
PRICE_S3_PUT = 0.005 / 1000  # PUT/POST/LIST requests, S3 Standard
PRICE_S3_GET = 0.0004 / 1000  # CloudFront's origin fetch (the media behavior caches nothing)
PRICE_S3_GB_MONTH = 0.023
# Devices download through CloudFront (signed URLs, docs/DEPLOYMENT.md): its egress, first 10 TB
# North America/Europe (S3 to CloudFront is free), and its HTTPS requests.
PRICE_EGRESS_GB = 0.085
PRICE_CLOUDFRONT_REQUEST = 0.0100 / 10_000
PRICE_REST_REQUEST = 3.50 / 1e6  # API Gateway REST API, first 333 million
PRICE_WS_MESSAGE = 1.00 / 1e6  # API Gateway WebSocket, per 32 KB message
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_LAMBDA_GB_S = 0.0000166667
PRICE_DDB_READ = 0.125 / 1e6  # on-demand read request unit
PRICE_DDB_WRITE = 0.625 / 1e6
LAMBDA_GB, LAMBDA_S = 0.25, 0.05  # a relay invocation: 256 MB, ~50 ms
LAMBDA_INVOCATION = PRICE_LAMBDA_REQUEST + LAMBDA_GB * LAMBDA_S * PRICE_LAMBDA_GB_S
# One brokered call (a lease renewal): device -> relay -> recorder and back, 4 messages, two
# of them invoking the relay's Lambda, each reading the session and counting the rate limit.
CALL_MESSAGES, CALL_INVOCATIONS, CALL_READS, CALL_WRITES = 4, 2, 4, 2
# A links request: one REST call, one Lambda, reads of the account, grant and media session.
LINKS_READS = 3
REST_READS = 1  # any other REST call (a ticket, a token refresh): the account at least
OBJECT_DAYS = 1.0  # the media bucket's lifecycle rule keeps session parts a day


def _storage(upload_bytes: int, scale: float) -> float:
    return upload_bytes * scale / 1e9 * PRICE_S3_GB_MONTH * OBJECT_DAYS / 30


def _total(cost: dict[str, float]) -> dict[str, float]:
    cost = {k: round(v, 5) for k, v in cost.items()}
    cost["total"] = round(sum(cost.values()), 4)
    return cost


def reference_viewer_hour(
    watch: dict[str, Any], uploads: int, upload_bytes: int
) -> dict[str, float]:
    """The reference client's watch: its GETs, bytes and link requests as it counted them,
    its lease renewals from the lease period (a renewal every third of it)."""
    scale = 3600 / watch["seconds"]
    gb_down = watch["bytes_down"] * scale / 1e9
    lambdas = (watch["link_requests"] + watch["renewals"] * CALL_INVOCATIONS) * scale
    return _total(
        {
            "s3_uploads": uploads * scale * PRICE_S3_PUT,
            "s3_downloads": watch["gets"] * scale * PRICE_S3_GET,
            "s3_storage": _storage(upload_bytes, scale),
            "egress": gb_down * PRICE_EGRESS_GB,
            "cloudfront_requests": watch["gets"] * scale * PRICE_CLOUDFRONT_REQUEST,
            "link_requests": watch["link_requests"] * scale * PRICE_REST_REQUEST,
            "lease_messages": watch["renewals"] * scale * CALL_MESSAGES * PRICE_WS_MESSAGE,
            "lambda": lambdas * LAMBDA_INVOCATION,
            "dynamodb": scale
            * (
                watch["link_requests"] * LINKS_READS * PRICE_DDB_READ
                + watch["renewals"] * (CALL_READS * PRICE_DDB_READ + CALL_WRITES * PRICE_DDB_WRITE)
            ),
        }
    )


def browser_viewer_hour(
    window: dict[str, Any], uploads: int, upload_bytes: int
) -> dict[str, float]:
    """The browser's window (web/bench/remote.mjs): object GETs (CloudFront in AWS, its origin
    fetch from S3 each), links and other REST calls, and tunnel messages each way. The recorder's
    side of the tunnel mirrors the device's: each message the browser sends is forwarded to the
    recorder, each it receives came from the recorder, so API Gateway bills every message twice
    (once per connection) and the relay's Lambda runs once per message either way. Egress: every
    byte the browser received from the relay (objects, REST answers, WebSocket messages), at
    CloudFront's rate (API Gateway's data transfer out is about the same)."""
    scale = 3600 / window["seconds"]
    received = window["object_bytes"] + window["other_bytes"] + window["ws_received_bytes"]
    messages = window["ws_sent"] + window["ws_received"]
    units = window["ws_sent_units"] + window["ws_received_units"]
    rest = window["links"] + window["rest"]
    reads_per_message = CALL_READS / CALL_INVOCATIONS
    writes_per_message = CALL_WRITES / CALL_INVOCATIONS
    return _total(
        {
            "s3_uploads": uploads * scale * PRICE_S3_PUT,
            "s3_downloads": window["objects"] * scale * PRICE_S3_GET,
            "s3_storage": _storage(upload_bytes, scale),
            "egress": received * scale / 1e9 * PRICE_EGRESS_GB,
            "cloudfront_requests": (window["objects"] + window["static"])
            * scale
            * PRICE_CLOUDFRONT_REQUEST,
            "link_requests": window["links"] * scale * PRICE_REST_REQUEST,
            "other_rest_requests": window["rest"] * scale * PRICE_REST_REQUEST,
            "ws_messages": 2 * units * scale * PRICE_WS_MESSAGE,
            "lambda": (rest + messages) * scale * LAMBDA_INVOCATION,
            "dynamodb": scale
            * (
                window["links"] * LINKS_READS * PRICE_DDB_READ
                + window["rest"] * REST_READS * PRICE_DDB_READ
                + messages
                * (reads_per_message * PRICE_DDB_READ + writes_per_message * PRICE_DDB_WRITE)
            ),
        }
    )
