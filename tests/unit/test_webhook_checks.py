"""The parts of webhook checking that need no server: the bounded replay cache, signatures, and
pictures that declare a size they should not have."""

from __future__ import annotations

import hashlib
import hmac

import cv2
import numpy as np
import pytest

from recorder.errors import InvalidRequest, NotAuthenticated, TooManyAttempts
from recorder.integrations.picture import jpeg_size, thumbnail_from
from recorder.integrations.signature import TOLERANCE_S, ReplayCache, sign, verify

NOW = 1_700_000_000.0


def test_the_replay_cache_forgets_after_the_window_and_refuses_when_full() -> None:
    cache = ReplayCache(max_entries=3)
    for n in range(3):
        assert cache.remember(f"k{n}", NOW, NOW + 10)
    assert not cache.remember("k1", NOW + 5, NOW + 15)  # a replay
    with pytest.raises(TooManyAttempts):
        cache.remember("k3", NOW + 5, NOW + 15)  # full of live entries: nothing forgotten early
    assert len(cache) == 3
    assert cache.remember("k3", NOW + 10, NOW + 20)  # the first three have expired
    assert len(cache) == 1
    assert cache.remember("k0", NOW + 11, NOW + 21)  # expired keys may come again


def test_verify_accepts_once_within_the_window() -> None:
    body = b'{"camera_id": "cam1", "kind": "doorbell"}'
    ts = int(NOW)
    cache = ReplayCache()
    verify("s3cret", str(ts), sign("s3cret", ts, body), body, NOW + TOLERANCE_S, cache, "a")
    with pytest.raises(NotAuthenticated, match="replayed"):
        verify("s3cret", str(ts), sign("s3cret", ts, body), body, NOW, cache, "a")
    # Another integration with the same secret and body is its own scope.
    verify("s3cret", str(ts), sign("s3cret", ts, body), body, NOW, cache, "b")
    with pytest.raises(NotAuthenticated, match="stale"):
        verify("s3cret", str(ts), sign("s3cret", ts, body), body, NOW + 301, cache, "c")


def test_the_signed_string_is_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", 1_700_000_000, b"{}") == "sha256=" + expected


def _jpeg(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))
    assert ok
    return encoded.tobytes()


def test_a_picture_declaring_a_huge_size_is_refused_before_decoding() -> None:
    small = _jpeg(64, 48)
    assert jpeg_size(small) == (64, 48)
    # The same bytes, with the frame header claiming 60000 x 60000.
    at = small.index(b"\xff\xc0")
    bomb = small[: at + 5] + (60_000).to_bytes(2, "big") * 2 + small[at + 9 :]
    assert jpeg_size(bomb) == (60_000, 60_000)
    with pytest.raises(InvalidRequest, match="60000x60000"):
        thumbnail_from(bomb, 50_000)
    with pytest.raises(InvalidRequest, match="not a JPEG"):
        thumbnail_from(b"\x89PNG\r\n", 50_000)
    assert len(thumbnail_from(_jpeg(1920, 1080), 20_000)) <= 20_000
