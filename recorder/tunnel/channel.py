"""The sealed channel between a device and the recorder (docs/ref/tunnel.md, "Sealed layer").

Handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b (the `noiseprotocol` library), the device as the
initiator (it knows the recorder's static key from its invitation), the recorder as responder.
The prologue binds the session to one recorder and one session id, so the relay cannot splice a
handshake into another session. Each side's ephemeral key is fresh per session: forward secrecy.

Transport: Noise's split keys, but used with explicit counter nonces (as WireGuard does) instead
of Noise's implicit ones, because the relay (API Gateway) does not keep messages in order. Each
message carries its seq; the nonce is Noise's encoding of it (4 zero bytes, 8-byte little-endian
seq) with ChaCha20-Poly1305 IETF from libsodium, so for in-order traffic the ciphertexts are
byte-identical to Noise's own. The receiver authenticates first, then delivers in seq order,
holding at most `window` messages that arrived early, and refuses a seq it already delivered or
holds (replay) or one beyond its window.
"""

from __future__ import annotations

import logging
import struct
import warnings
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from nacl.bindings import (
    crypto_aead_chacha20poly1305_ietf_decrypt,
    crypto_aead_chacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError
from noise.connection import Keypair, NoiseConnection
from noise.exceptions import (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseValueError,
)

from recorder.tunnel.errors import HandshakeFailed, MessageRefused

log = logging.getLogger(__name__)

# What the Noise library raises for a malformed, tampered or wrongly keyed handshake message.
_HANDSHAKE_ERRORS = (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseValueError,
    InvalidTag,
    ValueError,
    IndexError,
)

PROTOCOL_NAME = b"Noise_IK_25519_ChaChaPoly_BLAKE2b"
PROLOGUE_CONTEXT = b"skycam-tunnel/1\x00"
REORDER_WINDOW = 64  # messages held while an earlier one is missing
MAX_SEQ = 2**64 - 2  # Noise reserves 2^64-1
TAG_BYTES = 16


def prologue(rid: str, sid: str) -> bytes:
    return PROLOGUE_CONTEXT + rid.encode("ascii") + b"\x00" + sid.encode("ascii")


def nonce_of(seq: int) -> bytes:
    return b"\x00\x00\x00\x00" + struct.pack("<Q", seq)


def _connection(
    initiator: bool, static_private: bytes, the_prologue: bytes, ephemeral: bytes | None
) -> NoiseConnection:
    conn = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
    if ephemeral is not None:
        # Only the test vectors fix an ephemeral key; the library warns that this is for tests.
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral)
    conn.set_prologue(the_prologue)
    return conn


def _start(conn: NoiseConnection) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conn.start_handshake()


def _split(conn: NoiseConnection) -> tuple[bytes, bytes]:
    protocol = conn.noise_protocol
    return bytes(protocol.cipher_state_encrypt.k), bytes(protocol.cipher_state_decrypt.k)


@dataclass
class SealedChannel:
    """One session's transport: sealing with `send_key`, opening with `recv_key`."""

    send_key: bytes
    recv_key: bytes
    window: int = REORDER_WINDOW
    handshake_hash: bytes = b""
    _next_send: int = 0
    _next_recv: int = 0
    _early: dict[int, bytes] = field(default_factory=dict)
    refused: int = 0  # messages refused so far (forged, tampered, replayed, too far ahead)

    def seal(self, plaintext: bytes) -> tuple[int, bytes]:
        seq = self._next_send
        if seq > MAX_SEQ:
            raise MessageRefused("nonce space exhausted: open a new session")
        self._next_send += 1
        nonce = nonce_of(seq)
        return seq, bytes(
            crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, None, nonce, self.send_key)
        )

    def open(self, seq: object, ciphertext: bytes) -> list[bytes]:
        """The plaintexts now deliverable in order (none if `seq` arrived early).

        Raises MessageRefused, and changes nothing, for a message that fails authentication,
        a replay, or a seq more than `window` ahead of the next one due."""
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
            return self._refuse(f"bad seq {seq!r}")
        if seq < self._next_recv or seq in self._early:
            return self._refuse(f"replayed seq {seq} (next due {self._next_recv})")
        if seq >= self._next_recv + self.window:
            return self._refuse(f"seq {seq} beyond the window (next due {self._next_recv})")
        try:
            plaintext = crypto_aead_chacha20poly1305_ietf_decrypt(
                ciphertext, None, nonce_of(seq), self.recv_key
            )
        except CryptoError:
            return self._refuse(f"seq {seq} failed authentication (forged or tampered)")
        self._early[seq] = bytes(plaintext)
        delivered = []
        while self._next_recv in self._early:
            delivered.append(self._early.pop(self._next_recv))
            self._next_recv += 1
        return delivered

    def _refuse(self, why: str) -> list[bytes]:
        self.refused += 1
        log.warning("sealed channel: refused a message: %s", why)
        raise MessageRefused(why)

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return f"SealedChannel(next_send={self._next_send}, next_recv={self._next_recv})"


class Initiator:
    """The device's half of the handshake: `hello()` to send, `finish(reply)` for the channel."""

    def __init__(
        self,
        static_private: bytes,
        recorder_static: bytes,
        the_prologue: bytes,
        *,
        ephemeral: bytes | None = None,
    ) -> None:
        self._conn = _connection(True, static_private, the_prologue, ephemeral)
        self._conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, recorder_static)
        _start(self._conn)

    def hello(self, payload: bytes = b"") -> bytes:
        return bytes(self._conn.write_message(payload))

    def finish(self, reply: bytes) -> SealedChannel:
        try:
            self._conn.read_message(reply)
        except _HANDSHAKE_ERRORS as exc:
            raise HandshakeFailed(f"handshake reply refused: {exc}") from exc
        send, recv = _split(self._conn)
        return SealedChannel(send, recv, handshake_hash=bytes(self._conn.get_handshake_hash()))


@dataclass(frozen=True)
class Accepted:
    reply: bytes  # the "hs" of the accept message
    device_static: bytes  # the initiator's static public key, authenticated by the handshake
    channel: SealedChannel


def respond(
    static_private: bytes, the_prologue: bytes, hello: bytes, *, ephemeral: bytes | None = None
) -> Accepted:
    """The recorder's half: read the device's first message, answer it, return the channel."""
    conn = _connection(False, static_private, the_prologue, ephemeral)
    _start(conn)
    try:
        conn.read_message(hello)
        # Read before the reply: the library drops its handshake state once the reply is out.
        device_static = bytes(conn.noise_protocol.handshake_state.rs.public_bytes)
        reply = bytes(conn.write_message(b""))
    except _HANDSHAKE_ERRORS as exc:
        raise HandshakeFailed(f"handshake refused: {exc}") from exc
    send, recv = _split(conn)
    channel = SealedChannel(send, recv, handshake_hash=bytes(conn.get_handshake_hash()))
    return Accepted(reply, device_static, channel)
