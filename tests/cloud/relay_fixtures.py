"""Helpers shared by the relay tests: a recorder key that signs connects, API Gateway events."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import nacl.signing

from cloud.chalicelib.recorders.identity import connect_message, recorder_id_for


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RecorderKey:
    def __init__(self) -> None:
        self.signing = nacl.signing.SigningKey.generate()
        self.public = bytes(self.signing.verify_key)
        self.rid = recorder_id_for(self.public)

    def connect_query(self, nonce: str, version: str = "0.1.0") -> dict[str, str]:
        sig = self.signing.sign(connect_message(self.rid, nonce)).signature
        return {
            "role": "recorder",
            "rid": self.rid,
            "pk": b64url(self.public),
            "nonce": nonce,
            "sig": b64url(sig),
            "v": version,
        }


def new_sid() -> str:
    return b64url(secrets.token_bytes(16))


def ws_event(
    route: str, conn_id: str, *, query: dict[str, str] | None = None, body: str | None = None
) -> dict[str, Any]:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": conn_id,
            "apiId": "abcdef1234",
            "stage": "api",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "198.51.100.7"},
        },
        "isBase64Encoded": False,
    }
    if query is not None:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def split_messages(data: bytes) -> list[dict[str, Any]]:
    """Messages posted to one connection, which moto keeps concatenated."""
    decoder = json.JSONDecoder()
    text, out, i = data.decode(), [], 0
    while i < len(text):
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)
    return out
