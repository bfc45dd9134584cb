"""The plaintext framing inside the sealed channel (docs/ref/tunnel.md, "Plaintext framing").

Each sealed plaintext is one frame of at most 16 KiB: a 2-byte big-endian header length, the
header as UTF-8 JSON, then body bytes. The header's "k" says what it is:

  enroll / enrolled      device proves an invitation secret; the recorder answers
  req / res              an /api/v1 call and its answer ("id" pairs them)
  sub / notice           the device subscribes to realtime notices; the recorder sends them
  error                  the recorder refuses something (code, reason); the session may close
  part                   the next piece of the message with the same "id"

A message whose header and body do not fit in one frame goes out as its first frame with
"more": true, then "part" frames, the last with "more": false. The receiver reassembles by id
and refuses a message over its byte bound, unfinished messages over that bound together, or
more than `max_pending` unfinished at once.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from recorder.tunnel.errors import FramingError

MAX_PLAINTEXT = 16 * 1024  # keeps a data frame under 32 KB after the tag, base64 and JSON
MAX_HEADER = 8 * 1024
KINDS = frozenset({"enroll", "enrolled", "req", "res", "sub", "notice", "error", "part"})


@dataclass(frozen=True)
class Message:
    """One logical message: a header (with "k" and, for calls, "id") and a body."""

    header: dict[str, Any]
    body: bytes = b""

    @property
    def kind(self) -> str:
        return str(self.header["k"])


def _frame(header: dict[str, Any], body: bytes) -> bytes:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    if len(encoded) > MAX_HEADER:
        raise FramingError(f"header of {len(encoded)} bytes is over {MAX_HEADER}")
    return struct.pack(">H", len(encoded)) + encoded + body


def split(message: Message, limit: int = MAX_PLAINTEXT) -> Iterator[bytes]:
    """The frames of `message`, each at most `limit` bytes."""
    header = dict(message.header)
    body = message.body
    first_room = limit - len(_frame({**header, "more": True}, b""))
    if len(body) <= limit - len(_frame(header, b"")):
        yield _frame(header, body)
        return
    if "id" not in header:
        raise FramingError(f"a {message.kind!r} message too large for one frame needs an id")
    yield _frame({**header, "more": True}, body[:first_room])
    offset = first_room
    part_room = limit - len(_frame({"k": "part", "id": header["id"], "more": True}, b""))
    while offset < len(body):
        piece = body[offset : offset + part_room]
        offset += len(piece)
        yield _frame({"k": "part", "id": header["id"], "more": offset < len(body)}, piece)


def parse(frame: bytes) -> Message:
    if len(frame) < 2:
        raise FramingError("frame too short")
    (size,) = struct.unpack(">H", frame[:2])
    if size > MAX_HEADER or 2 + size > len(frame):
        raise FramingError("bad header length")
    try:
        header = json.loads(frame[2 : 2 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FramingError("header is not JSON") from exc
    if not isinstance(header, dict) or header.get("k") not in KINDS:
        raise FramingError("header is not an object with a known kind")
    return Message(header, frame[2 + size :])


@dataclass
class _Pending:
    header: dict[str, Any]
    parts: list[bytes]
    size: int


@dataclass
class Reassembler:
    """Turns frames back into messages; bounded in bytes per message and messages in flight."""

    max_message_bytes: int = 64 * 1024 * 1024
    max_pending: int = 32
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def feed(self, frame: bytes) -> Message | None:
        """The message `frame` completes, or None while more parts are due."""
        message = parse(frame)
        header = message.header
        if message.kind != "part":
            if not header.get("more"):
                return message
            key = str(header.get("id"))
            if "id" not in header or key in self._pending:
                raise FramingError("a multi-part message needs a fresh id")
            if len(self._pending) >= self.max_pending:
                raise FramingError(f"more than {self.max_pending} messages unfinished")
            header = {k: v for k, v in header.items() if k != "more"}
            self._pending[key] = _Pending(header, [message.body], len(message.body))
            return None
        key = str(header.get("id"))
        pending = self._pending.get(key)
        if pending is None:
            raise FramingError(f"a part for unknown message {key!r}")
        pending.size += len(message.body)
        if pending.size > self.max_message_bytes:
            del self._pending[key]
            raise FramingError(f"message {key!r} is over {self.max_message_bytes} bytes")
        if sum(p.size for p in self._pending.values()) > self.max_message_bytes:
            del self._pending[key]
            raise FramingError(f"unfinished messages are over {self.max_message_bytes} bytes")
        pending.parts.append(message.body)
        if header.get("more"):
            return None
        del self._pending[key]
        return Message(pending.header, b"".join(pending.parts))
