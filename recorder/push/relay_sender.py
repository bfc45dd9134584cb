"""Web Push through the relay: the `PushSender` adapter that hands each encrypted notification
to the relay over the recorder's relay connection (docs/ref/tunnel.md, "Web Push through the
relay"), and the router that picks it or `DirectSender` per subscription.

The recorder still decides who is told and encrypts for each browser (payload.py); the relay
only adds its VAPID signature, POSTs and answers with the push service's outcome, so 404/410
pruning, retries and the outbox stay in `PushService`. While the relay is away nothing is sent:
`RETRY_LATER` at once, and the outbox holds the notification on disk until the tunnel is back
(`PushService.relay_connected`). A resend of something the relay did deliver (the answer was
lost with the link) is answered from the relay's record, not pushed again: the relay
deduplicates by (event, endpoint).
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any, Protocol

from recorder.push.payload import PushMessage
from recorder.push.sender import Outcome, PushSender
from recorder.tunnel.errors import TunnelError

log = logging.getLogger(__name__)
ANSWER_S = 60.0  # the relay tries a push service up to ~25 s (its Lambda budget) before answering


class RelayLink(Protocol):
    """What the tunnel client offers (recorder/tunnel/client.py)."""

    @property
    def push_key(self) -> str | None:
        """The relay's VAPID public key, from its answer to our hello (None: not known)."""

    @property
    def is_connected(self) -> bool: ...

    async def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send with a fresh "ref" and return the relay's answer carrying it (TunnelError if
        there is no connection or no answer in time)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RelaySender:
    def __init__(self, link: RelayLink, answer_s: float = ANSWER_S) -> None:
        self._link = link
        self._answer_s = answer_s

    async def deliver(self, message: PushMessage) -> Outcome:
        if not self._link.is_connected:
            return Outcome.RETRY_LATER
        request = {
            "t": "push",
            "ev": str(message.event_id),
            "ep": message.endpoint,
            "body": _b64url(message.body),
            "ttl": message.ttl_s,
            "urg": message.urgency,
            "topic": message.topic,
        }
        try:
            answer = await self._link.request(request, self._answer_s)
        except TunnelError as exc:
            log.info("push through the relay: %s (queued for later)", exc)
            return Outcome.RETRY_LATER
        if answer.get("t") == "error":
            code = answer.get("code")
            log.warning("relay refused a push: %s %s", code, answer.get("reason"))
            return Outcome.RETRY_LATER if code == "rate_limited" else Outcome.REJECTED
        try:
            return Outcome(str(answer.get("outcome")))
        except ValueError:
            log.warning("relay answered a push with %r", answer.get("outcome"))
            return Outcome.REJECTED

    async def close(self) -> None:
        return None


class RoutedSender:
    """A subscription made with the relay's key goes through the relay; one made with the
    recorder's own key (before the relay was configured, or on a LAN-only install) is sent
    directly, since only that key's signature is accepted for it."""

    def __init__(self, direct: PushSender, relay: PushSender, relay_key: RelayPushKey) -> None:
        self._direct = direct
        self._relay = relay
        self._relay_key = relay_key

    async def deliver(self, message: PushMessage) -> Outcome:
        key = self._relay_key.get()
        if key is not None and message.server_key == key:
            return await self._relay.deliver(message)
        return await self._direct.deliver(message)

    async def close(self) -> None:
        await self._direct.close()
        await self._relay.close()


class RelayPushKey:
    """The relay's VAPID public key, as last heard from the relay, kept in a file so that
    browsers can subscribe (and the router pick the relay) while the relay is away."""

    def __init__(self, path: Path, link: RelayLink) -> None:
        self._path = path
        self._link = link
        self._known: str | None = None

    def get(self) -> str | None:
        heard = self._link.push_key
        if heard is not None:
            if heard != self._known:
                self._store(heard)
            return heard
        if self._known is None:
            try:
                self._known = self._path.read_text().strip() or None
            except FileNotFoundError:
                return None
        return self._known

    def _store(self, key: str) -> None:
        self._known = key
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(key + "\n")
        temporary.replace(self._path)
