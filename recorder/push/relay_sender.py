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

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any, Protocol

from recorder.errors import RelayLinkDown
from recorder.push.payload import PushMessage
from recorder.push.sender import Outcome, PushSender

log = logging.getLogger(__name__)
ANSWER_S = 60.0  # the relay tries a push service up to ~25 s (its Lambda budget) before answering
GATHER_S = 0.005  # how long a notification waits for others to share its message
FRAME_BUDGET = 28_000  # bytes of items per message: the relay's frame is 32 KB
MAX_ITEMS = 16  # the relay's limit per message


class RelayLink(Protocol):
    """What the tunnel client offers (recorder/tunnel/client.py)."""

    @property
    def push_key(self) -> str | None:
        """The relay's VAPID public key, from its answer to our hello (None: not known)."""

    @property
    def is_connected(self) -> bool: ...

    async def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send with a fresh "ref" and return the relay's answer carrying it (RelayLinkDown
        if there is no connection or no answer in time)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RelaySender:
    """Hands notifications to the relay, a few per message: what a fan-out produces within
    `gather_s` is packed into messages of at most `frame_budget` bytes and `MAX_ITEMS` items
    (a relay message is one 32 KB frame), so 1,000 subscribers are some 200 messages, not
    1,000; each caller still gets its own outcome."""

    def __init__(
        self,
        link: RelayLink,
        answer_s: float = ANSWER_S,
        gather_s: float = GATHER_S,
        frame_budget: int = FRAME_BUDGET,
    ) -> None:
        self._link = link
        self._answer_s = answer_s
        self._gather_s = gather_s
        self._budget = frame_budget
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[Outcome]]] = []
        self._waiting_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def deliver(self, message: PushMessage) -> Outcome:
        if not self._link.is_connected:
            return Outcome.RETRY_LATER
        item = {
            "ev": str(message.event_id),
            "ep": message.endpoint,
            "body": _b64url(message.body),
            "ttl": message.ttl_s,
            "urg": message.urgency,
            "topic": message.topic,
        }
        size = len(json.dumps(item)) + 1
        loop = asyncio.get_running_loop()
        if self._waiting and (
            self._waiting_bytes + size > self._budget or len(self._waiting) >= MAX_ITEMS
        ):
            self._flush()  # this one would not fit: send what waits, start a new message
        outcome: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((item, outcome))
        self._waiting_bytes += size
        if self._timer is None:
            self._timer = loop.call_later(self._gather_s, self._flush)
        return await outcome

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting, self._waiting_bytes = self._waiting, [], 0
        if batch:
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[dict[str, Any], asyncio.Future[Outcome]]]) -> None:
        outcomes = await self._ask([item for item, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _ask(self, items: list[dict[str, Any]]) -> list[Outcome]:
        try:
            answer = await self._link.request({"t": "push", "items": items}, self._answer_s)
        except RelayLinkDown as exc:
            log.info("push through the relay: %s (queued for later)", exc)
            return [Outcome.RETRY_LATER] * len(items)
        if answer.get("t") == "error":
            code = answer.get("code")
            log.warning("relay refused a push: %s %s", code, answer.get("reason"))
            outcome = Outcome.RETRY_LATER if code == "rate_limited" else Outcome.REJECTED
            return [outcome] * len(items)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            log.warning("relay answered a push without a result per notification")
            return [Outcome.REJECTED] * len(items)
        return [_outcome(r) for r in results]

    async def close(self) -> None:
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


def _outcome(result: object) -> Outcome:
    value = result.get("outcome") if isinstance(result, dict) else None
    try:
        return Outcome(str(value))
    except ValueError:
        log.warning("relay answered a push with %r", value)
        return Outcome.REJECTED


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
