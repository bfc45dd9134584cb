"""What a notification says, and its encryption for one subscription (RFC 8291, aes128gcm).

The payload is small JSON: ids and paths, never an image (push services cap a message at about
4 KB, and ~3,900 bytes of plaintext once encrypted). On the LAN the thumbnail is an API path the
service worker fetches with the user's access token; through the relay it is also a reference
to the encrypted copy the relay stores (docs/ref/remote-media.md): the object key and the key
that opens it, safe here because the whole payload is encrypted for the browser. Free text
(names, labels) is cut so the whole always fits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pywebpush import WebPusher

from recorder.motion.model import MotionEvent
from recorder.push.errors import PayloadTooBig

MAX_PLAINTEXT = 3000  # comfortably under the ~3,900-byte limit after encryption overhead
API = "/api/v1"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notification(
    event: MotionEvent, camera_name: str, remote_thumbnail: dict[str, str] | None = None
) -> dict[str, Any]:
    """The JSON the service worker receives for `event` (see docs/design/push.md);
    `remote_thumbnail` is `{"key", "k"}` of the relay's sealed copy, when there is one."""
    name = _cut(camera_name or event.camera_id, 80)
    what = event.kind if not event.label else f"{event.kind}: {_cut(event.label, 80)}"
    return {
        "v": 1,
        "type": "event.start",
        "event_id": event.id,
        "camera_id": event.camera_id,
        "camera_name": name,
        "at_ms": event.start_ms,
        "kind": _cut(event.kind, 40),
        "label": _cut(event.label, 120),
        # title, body and url are what the PWA's service worker (web/src/sw.ts) shows and opens.
        "title": name,
        "body": _cut(what, 120) if event.kind != "motion" or event.label else "Motion detected",
        "url": f"/events?event={event.id}",
        "thumbnail": f"{API}/events/{event.id}/thumbnail.jpg",
        # Remote: where the relay stores the event's sealed thumbnail and the key that opens it
        # (null without a relay, or without a thumbnail).
        "remote_thumbnail": remote_thumbnail,
    }


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_PLAINTEXT:
        raise PayloadTooBig(f"notification of {len(data)} bytes (limit {MAX_PLAINTEXT})")
    return data


def encrypt(subscription_info: dict[str, Any], data: bytes) -> bytes:
    """`data` encrypted for one subscription's browser (a fresh ephemeral key each time)."""
    body: bytes = WebPusher(subscription_info).encode(data, "aes128gcm")["body"]
    return body


def topic_for(camera_id: str) -> str:
    """A Topic header (at most 32 URL-safe characters): a newer undelivered notification of the
    same camera replaces an older one at the push service instead of piling up."""
    return "cam" + hashlib.sha256(camera_id.encode()).hexdigest()[:29]


@dataclass(frozen=True)
class PushMessage:
    """One encrypted notification for one endpoint: what a `PushSender` delivers."""

    endpoint: str
    body: bytes
    ttl_s: int
    urgency: str
    topic: str
    event_id: int = 0  # the relay delivers each (event, endpoint) once
    server_key: str | None = None  # the VAPID key the browser subscribed with (routing)

    def headers(self) -> dict[str, str]:
        return {
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl_s),
            "Urgency": self.urgency,
            "Topic": self.topic,
        }
