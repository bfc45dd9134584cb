"""Sealed objects (AES-256-GCM, names bound as associated data) against the documented test
vectors, and the live part cutter and playlists, without I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from recorder.remote.errors import SealError
from recorder.remote.parts import (
    INDEPENDENT_TAG,
    PartCutter,
    PlaybackItem,
    live_playlist,
    playback_playlist,
)
from recorder.remote.sealing import (
    MAGIC,
    MediaSecret,
    media_aad,
    new_key,
    open_sealed,
    seal,
    thumbnail_aad,
)
from recorder.remote.viewer import parse_playlist

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "docs/ref/remote-media-vectors.json").read_text()
)


def gcm_by_hand(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """The same construction through the lower-level cipher API: magic, nonce, ct, tag."""
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return MAGIC + nonce + body + encryptor.tag


def test_the_media_vector() -> None:
    v = VECTORS["media"]
    key, nonce, plaintext = (bytes.fromhex(v[k]) for k in ("key", "nonce", "plaintext"))
    aad = media_aad(v["msid"], v["name"])
    assert aad.hex() == v["aad"]
    assert seal(key, aad, plaintext, nonce).hex() == v["sealed"]
    assert gcm_by_hand(key, nonce, aad, plaintext).hex() == v["sealed"]
    assert open_sealed(key, aad, bytes.fromhex(v["sealed"])) == plaintext


def test_the_thumbnail_vector() -> None:
    v = VECTORS["thumbnail"]
    secret = MediaSecret(bytes.fromhex(v["media_secret"]))
    assert secret.camera_key(v["camera_id"]) == v["camera_key"]
    assert v["camera_id"] not in v["object_key"]
    key = secret.thumbnail_key(v["object_key"])
    assert key.hex() == v["key"]
    sealed = bytes.fromhex(v["sealed"])
    assert open_sealed(key, thumbnail_aad(v["object_key"]), sealed).hex() == v["plaintext"]


def test_an_object_opens_only_with_its_key_and_name() -> None:
    key = new_key()
    sealed = seal(key, media_aad("msid", "p00000001.m4s"), b"frame")
    assert sealed != seal(key, media_aad("msid", "p00000001.m4s"), b"frame")  # fresh nonce
    for wrong_key, aad in (
        (new_key(), media_aad("msid", "p00000001.m4s")),
        (key, media_aad("msid", "p00000002.m4s")),  # the store swapped two parts
        (key, media_aad("other", "p00000001.m4s")),
    ):
        with pytest.raises(SealError):
            open_sealed(wrong_key, aad, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        open_sealed(key, media_aad("msid", "p00000001.m4s"), tampered)


def feed_gop_camera(cutter: PartCutter, seconds: int, gop_s: int, fps: int = 15) -> list:  # type: ignore[type-arg]
    parts = []
    for n in range(seconds * fps):
        part = cutter.fragment(b"f%d" % n, n % (gop_s * fps) == 0, n / fps, 1e12 + n * 1000 / fps)
        if part is not None:
            parts.append(part)
    return parts


def test_parts_last_a_second_whatever_the_gop() -> None:
    cutter = PartCutter(1.0)
    cutter.new_init()
    parts = feed_gop_camera(cutter, 12, gop_s=4)
    assert len(parts) == 12
    assert all(p.frames == 15 and p.duration_s == pytest.approx(1.0) for p in parts)
    assert [p.independent for p in parts] == [True, False, False, False] * 3
    assert parts[1].data.startswith(b"f15") and parts[1].wall_ms == pytest.approx(1e12 + 1000)


def test_the_live_playlist_lists_the_window_with_its_inits() -> None:
    cutter = PartCutter(1.0)
    cutter.new_init()
    parts = feed_gop_camera(cutter, 3, gop_s=2)
    cutter.new_init()  # the camera reconnected
    parts += feed_gop_camera(cutter, 2, gop_s=2)
    text = live_playlist(parts[1:], 1.0)
    assert "#EXT-X-VERSION:7" in text and "#EXT-X-MEDIA-SEQUENCE:2" in text
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    entries = parse_playlist(text)
    assert [e.name for e in entries] == ["p00000002.m4s", "p00000003.m4s", "p00000004.m4s",
                                         "p00000005.m4s"]  # fmt: skip
    assert [e.init for e in entries] == ["init1.mp4"] * 2 + ["init2.mp4"] * 2
    assert [e.independent for e in entries] == [False, True, True, False]
    assert text.count(INDEPENDENT_TAG) == 2


def test_the_playback_playlist_marks_gaps_and_shares_inits() -> None:
    items = [
        PlaybackItem(0, 10, "ia.mp4", "s000000.m4s", 1_000, 2.0, 0.0, False),
        PlaybackItem(1, 11, "ia.mp4", "s000001.m4s", 3_000, 2.0, 2.0, False),
        PlaybackItem(2, 12, "ia.mp4", "s000002.m4s", 9_000, 2.0, 4.0, True),
    ]
    text = playback_playlist(items)
    assert text.count("#EXT-X-MAP") == 2 and text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert sum(e.duration_s for e in parse_playlist(text)) == pytest.approx(6.0)
