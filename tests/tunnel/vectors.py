"""Builds the sealed-channel test vectors of docs/ref/tunnel-vectors.json from fixed keys.

`python -m tests.tunnel.vectors > docs/ref/tunnel-vectors.json` regenerates the file; the test
checks that the implementation still produces exactly what the file says, byte for byte, so a
second implementation (the PWA's) can be checked against the same file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from nacl.public import PrivateKey

from recorder.tunnel.channel import PROTOCOL_NAME, Initiator, prologue, respond
from recorder.tunnel.framing import Message, split
from recorder.tunnel.invitations import enrollment_proof

RID = "t2k4xkqmd5wbyhdmkb7pxw5p2e"
SID = "AAECAwQFBgcICQoLDA0ODw"
ACCOUNT = "acct-0001"


def key(label: str) -> bytes:
    return hashlib.sha256(b"skycam test vector " + label.encode()).digest()


def build() -> dict[str, Any]:
    device_s, device_e = key("device static"), key("device ephemeral")
    recorder_s, recorder_e = key("recorder static"), key("recorder ephemeral")
    recorder_public = bytes(PrivateKey(recorder_s).public_key)
    the_prologue = prologue(RID, SID)
    initiator = Initiator(device_s, recorder_public, the_prologue, ephemeral=device_e)
    hello = initiator.hello()
    accepted = respond(recorder_s, the_prologue, hello, ephemeral=recorder_e)
    device = initiator.finish(accepted.reply)
    recorder = accepted.channel
    request = Message(
        {"k": "req", "id": "c1", "method": "GET", "path": "/api/v1/cameras", "query": "",
         "headers": []}
    )  # fmt: skip
    response = Message(
        {"k": "res", "id": "c1", "status": 200, "headers": [["content-type", "application/json"]]},
        b'[{"id":"cam1"}]',
    )
    secret = key("invitation secret")
    device_public = bytes(PrivateKey(device_s).public_key)
    transport: list[dict[str, Any]] = []
    for sender, channel, message in (
        ("device", device, request),
        ("recorder", recorder, response),
        ("device", device, Message({"k": "sub"})),
    ):
        for frame in split(message):
            seq, ct = channel.seal(frame)
            transport.append(
                {"from": sender, "seq": seq, "plaintext": frame.hex(), "ciphertext": ct.hex()}
            )
    return {
        "protocol": PROTOCOL_NAME.decode(),
        "note": "hex unless said otherwise; nonce = 4 zero bytes + 8-byte little-endian seq",
        "rid": RID,
        "sid": SID,
        "prologue": the_prologue.hex(),
        "device_static_private": device_s.hex(),
        "device_static_public": device_public.hex(),
        "device_ephemeral_private": device_e.hex(),
        "recorder_static_private": recorder_s.hex(),
        "recorder_static_public": recorder_public.hex(),
        "recorder_ephemeral_private": recorder_e.hex(),
        "handshake": [
            {"from": "device", "message": hello.hex()},
            {"from": "recorder", "message": accepted.reply.hex()},
        ],
        "handshake_hash": device.handshake_hash.hex(),
        "device_send_key": device.send_key.hex(),
        "recorder_send_key": recorder.send_key.hex(),
        "transport": transport,
        "enrollment": {
            "account": ACCOUNT,
            "secret": secret.hex(),
            "proof": enrollment_proof(secret, device_public, ACCOUNT, SID).hex(),
        },
    }


if __name__ == "__main__":
    json.dump(build(), sys.stdout, indent=2)
    sys.stdout.write("\n")
