"""The sealed channel: handshake, vectors, and refusal of forged, replayed, reordered, tampered
and spliced messages (unit tests, no I/O)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from noise.connection import Keypair, NoiseConnection

from recorder.tunnel.channel import (
    PROTOCOL_NAME,
    Initiator,
    SealedChannel,
    prologue,
    respond,
)
from recorder.tunnel.errors import HandshakeFailed, MessageRefused
from tests.tunnel.vectors import build

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "ref" / "tunnel-vectors.json"


def pair(rid: str = "rid", sid: str = "sid") -> tuple[SealedChannel, SealedChannel, bytes]:
    recorder, device = PrivateKey.generate(), PrivateKey.generate()
    initiator = Initiator(bytes(device), bytes(recorder.public_key), prologue(rid, sid))
    accepted = respond(bytes(recorder), prologue(rid, sid), initiator.hello())
    assert accepted.device_static == bytes(device.public_key)
    return initiator.finish(accepted.reply), accepted.channel, bytes(device.public_key)


def test_the_implementation_reproduces_the_published_vectors() -> None:
    assert json.loads(VECTORS.read_text()) == build()


def test_the_vectors_decrypt_with_the_published_keys_alone() -> None:
    vectors = json.loads(VECTORS.read_text())
    keys = {
        "device": bytes.fromhex(vectors["device_send_key"]),
        "recorder": bytes.fromhex(vectors["recorder_send_key"]),
    }
    receivers = {
        "device": SealedChannel(b"\0" * 32, keys["device"]),  # what the recorder opens with
        "recorder": SealedChannel(b"\0" * 32, keys["recorder"]),
    }
    for message in vectors["transport"]:
        opened = receivers[message["from"]].open(
            message["seq"], bytes.fromhex(message["ciphertext"])
        )
        assert opened == [bytes.fromhex(message["plaintext"])]


def test_in_order_ciphertexts_are_noises_own_transport_messages() -> None:
    """Explicit nonces change nothing for in-order traffic: same bytes as Noise's CipherState."""
    vectors = json.loads(VECTORS.read_text())
    initiator = NoiseConnection.from_name(PROTOCOL_NAME)
    initiator.set_as_initiator()
    initiator.set_keypair_from_private_bytes(
        Keypair.STATIC, bytes.fromhex(vectors["device_static_private"])
    )
    initiator.set_keypair_from_private_bytes(
        Keypair.EPHEMERAL, bytes.fromhex(vectors["device_ephemeral_private"])
    )
    initiator.set_keypair_from_public_bytes(
        Keypair.REMOTE_STATIC, bytes.fromhex(vectors["recorder_static_public"])
    )
    initiator.set_prologue(bytes.fromhex(vectors["prologue"]))
    with pytest.warns(UserWarning):
        initiator.start_handshake()
    assert initiator.write_message().hex() == vectors["handshake"][0]["message"]
    initiator.read_message(bytes.fromhex(vectors["handshake"][1]["message"]))
    first_from_device = next(m for m in vectors["transport"] if m["from"] == "device")
    ciphertext = initiator.encrypt(bytes.fromhex(first_from_device["plaintext"]))
    assert ciphertext.hex() == first_from_device["ciphertext"]


def test_each_session_has_fresh_keys() -> None:
    recorder, device = PrivateKey.generate(), PrivateKey.generate()
    keys = set()
    for _ in range(2):
        initiator = Initiator(bytes(device), bytes(recorder.public_key), prologue("r", "s"))
        accepted = respond(bytes(recorder), prologue("r", "s"), initiator.hello())
        keys.add(initiator.finish(accepted.reply).send_key)
    assert len(keys) == 2


def test_a_device_with_the_wrong_recorder_key_cannot_connect() -> None:
    recorder, impostor, device = PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()
    initiator = Initiator(bytes(device), bytes(impostor.public_key), prologue("r", "s"))
    with pytest.raises(HandshakeFailed):
        respond(bytes(recorder), prologue("r", "s"), initiator.hello())


def test_a_handshake_spliced_into_another_session_is_refused() -> None:
    recorder, device = PrivateKey.generate(), PrivateKey.generate()
    initiator = Initiator(bytes(device), bytes(recorder.public_key), prologue("r", "s1"))
    with pytest.raises(HandshakeFailed):
        respond(bytes(recorder), prologue("r", "s2"), initiator.hello())


def test_a_tampered_handshake_reply_is_refused() -> None:
    recorder, device = PrivateKey.generate(), PrivateKey.generate()
    initiator = Initiator(bytes(device), bytes(recorder.public_key), prologue("r", "s"))
    accepted = respond(bytes(recorder), prologue("r", "s"), initiator.hello())
    reply = bytearray(accepted.reply)
    reply[-1] ^= 1
    with pytest.raises(HandshakeFailed):
        initiator.finish(bytes(reply))


def test_reordered_messages_are_delivered_in_order() -> None:
    device, recorder, _ = pair()
    sealed = [device.seal(f"m{i}".encode()) for i in range(4)]
    assert recorder.open(*sealed[2]) == []
    assert recorder.open(*sealed[1]) == []
    assert recorder.open(*sealed[0]) == [b"m0", b"m1", b"m2"]
    assert recorder.open(*sealed[3]) == [b"m3"]


def test_replays_are_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    device, recorder, _ = pair()
    first, second = device.seal(b"one"), device.seal(b"two")
    assert recorder.open(*first) == [b"one"]
    caplog.set_level(logging.WARNING)
    with pytest.raises(MessageRefused, match="replayed"):
        recorder.open(*first)  # already delivered
    ahead = device.seal(b"three")
    assert recorder.open(*ahead) == []
    with pytest.raises(MessageRefused, match="replayed"):
        recorder.open(*ahead)  # held, not yet delivered
    assert recorder.open(*second) == [b"two", b"three"]
    assert recorder.refused == 2
    assert "replayed seq 0" in caplog.text


def test_tampered_and_forged_messages_are_refused_without_effect() -> None:
    device, recorder, _ = pair()
    seq, ct = device.seal(b"hello")
    tampered = bytearray(ct)
    tampered[0] ^= 1
    with pytest.raises(MessageRefused, match="authentication"):
        recorder.open(seq, bytes(tampered))
    forger, _, _ = pair()  # right format, wrong keys
    with pytest.raises(MessageRefused, match="authentication"):
        recorder.open(*forger.seal(b"forged"))
    with pytest.raises(MessageRefused, match="authentication"):
        recorder.open(seq + 1, ct)  # a real ciphertext moved to another seq
    assert recorder.open(seq, ct) == [b"hello"]  # the genuine one still goes through


def test_a_seq_beyond_the_window_is_refused() -> None:
    device, recorder, _ = pair()
    sealed = [device.seal(b"x") for _ in range(recorder.window + 1)]
    with pytest.raises(MessageRefused, match="window"):
        recorder.open(*sealed[-1])
    with pytest.raises(MessageRefused, match="bad seq"):
        recorder.open(-1, sealed[0][1])
