"""The parts of webhook checking that need no server: signatures, the replay record in the site
database (kept across a restart), and pictures that declare a size they should not have."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import cv2
import numpy as np
import pytest

from recorder.clock import FakeClock
from recorder.errors import InvalidRequest, NotAuthenticated, TooManyAttempts
from recorder.integrations.picture import jpeg_size, thumbnail_from
from recorder.integrations.signature import TOLERANCE_S, Signed, sign, verify
from recorder.integrations.store import IntegrationStore
from recorder.site_db import SiteDatabase

NOW = 1_700_000_000.0


async def test_accepted_signatures_are_refused_again_until_their_window_ends(
    tmp_path: Path,
) -> None:
    clock = FakeClock(NOW)
    async with SiteDatabase(tmp_path / "site.sqlite3") as db:
        store = IntegrationStore(db, clock)
        for n in range(3):
            await store.accept_once(Signed(f"k{n}", NOW + 10), max_remembered=3)
        clock.advance(5)
        with pytest.raises(NotAuthenticated, match="replayed"):
            await store.accept_once(Signed("k1", NOW + 15), max_remembered=3)
        # Full of live entries: nothing is forgotten early.
        with pytest.raises(TooManyAttempts):
            await store.accept_once(Signed("k3", NOW + 15), max_remembered=3)
        clock.advance(5)  # the first three have expired
        await store.accept_once(Signed("k3", NOW + 20), max_remembered=3)
        await store.accept_once(Signed("k0", NOW + 21), max_remembered=3)  # may come again
    # A restart (the database reopened) remembers what was accepted.
    async with SiteDatabase(tmp_path / "site.sqlite3") as db:
        with pytest.raises(NotAuthenticated, match="replayed"):
            await IntegrationStore(db, clock).accept_once(Signed("k3", NOW + 20))


def test_verify_checks_signature_and_freshness_and_scopes_the_replay_key() -> None:
    body = b'{"camera_id": "cam1", "kind": "doorbell"}'
    ts = int(NOW)
    good = sign("s3cret", ts, body)
    first = verify("s3cret", str(ts), good, body, NOW + TOLERANCE_S, "a")
    assert first == verify("s3cret", str(ts), good, body, NOW, "a")
    assert first.forget_at > NOW + TOLERANCE_S
    # Another integration with the same secret and body is its own scope.
    assert verify("s3cret", str(ts), good, body, NOW, "b").replay_key != first.replay_key
    with pytest.raises(NotAuthenticated, match="stale"):
        verify("s3cret", str(ts), good, body, NOW + 301, "c")
    with pytest.raises(NotAuthenticated, match="bad signature"):
        verify("other", str(ts), good, body, NOW, "a")


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
