"""The relay's side of Web Push: a recorder hands over encrypted notifications, a few per
message; the relay checks each, makes sure each (event, endpoint) is sent once, signs and
delivers them side by side and tells the recorder the outcomes (docs/ref/tunnel.md, "Web Push
through the relay").

Recorder -> relay: `{"t":"push","ref":R,"items":[{"ev":EVENT,"ep":ENDPOINT,"body":B64,"ttl":N,
"urg":URGENCY,"topic":TOPIC}, ...]}`; relay -> recorder (its newest connection, once every
delivery of the message is over): `{"t":"pushed","ref":R,"results":[{"outcome":O,"status":HTTP
[,"dup":true][,"reason":STR]}, ...]}`, in the items' order.

Once: the (recorder, event, endpoint) triple is claimed in the item store before sending,
under a hash (no endpoint or event id stored); a resend after a reconnect (the recorder's
outbox) finds it delivered and is answered from the record, without a second push. A claim
whose delivery ended `retry_later`, or that is older than `IN_FLIGHT_S` without an outcome (a
relay restart), may be tried again.

Nothing readable passes: the body is the recorder's ciphertext for the browser, the topic a
hash; neither the body nor the endpoint's path is logged or stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..clock import Clock
from ..errors import BadRequest, RateLimited, RelayError
from ..recorders.registry import RecorderRegistry
from ..storage.items import ItemStore
from ..tunnel.ratelimit import AccountRateLimiter
from ..tunnel.sender import Sender
from .delivery import Outcome, PushDelivery, PushRequest

log = logging.getLogger(__name__)

Job = Callable[[], None]
Runner = Callable[[Sequence[Job]], None]
"""Runs a message's deliveries side by side: in AWS within the message's own Lambda invocation
(threads, waited for: Lambda freezes a returned handler), on the local host on its delivery
pool (not waited for: the handler's thread goes back to routing)."""

IN_FLIGHT_S = 120  # a claim without an outcome for this long is taken to be lost
MAX_BODY = 4096  # RFC 8030 push services accept at least 4 KB
MAX_ITEMS = 16  # per message (a 32 KB frame holds about five 4 KB notifications)
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_EVENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
FINAL = frozenset({Outcome.DELIVERED, Outcome.GONE, Outcome.REJECTED})


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def parse(message: dict[str, Any]) -> tuple[str, PushRequest]:
    """The event key and the request of one item of a "push" message (BadRequest with the
    reason)."""
    event = message.get("ev")
    if not isinstance(event, str) or not _EVENT.match(event):
        raise BadRequest("ev must be 1-64 characters of [A-Za-z0-9_.:-]")
    endpoint = message.get("ep")
    if not isinstance(endpoint, str) or not 8 <= len(endpoint) <= 2048:
        raise BadRequest("ep must be the subscription's endpoint URL")
    raw = message.get("body")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_BODY * 2:
        raise BadRequest("body must be base64url")
    try:
        body = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("body must be base64url") from exc
    if not body or len(body) > MAX_BODY:
        raise BadRequest(f"body must be 1-{MAX_BODY} bytes")
    ttl = message.get("ttl")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 2_419_200:
        raise BadRequest("ttl must be 0-2419200 seconds")
    urgency = message.get("urg", "normal")
    if urgency not in URGENCIES:
        raise BadRequest("urg must be very-low, low, normal or high")
    topic = message.get("topic")
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise BadRequest("topic must be 1-32 URL-safe characters")
    return event, PushRequest(endpoint, body, ttl, str(urgency), topic)


class PushRelay:
    def __init__(
        self,
        items: ItemStore,
        clock: Clock,
        recorders: RecorderRegistry,
        limiter: AccountRateLimiter,
        sender: Sender,
        delivery: PushDelivery,
        run: Runner,
        *,
        per_minute: int,
        dedupe_s: int,
        max_pending: int = 10_000,
    ) -> None:
        self._items = items
        self._clock = clock
        self._recorders = recorders
        self._limiter = limiter
        self._sender = sender
        self._delivery = delivery
        self._run = run
        self._per_minute = per_minute
        self._dedupe_s = dedupe_s
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self.stats = {o.value: 0 for o in Outcome} | {"duplicates": 0}

    @property
    def public_key(self) -> str:
        return self._delivery.public_key

    def accept(self, rid: str, conn_id: str, message: dict[str, Any]) -> None:
        """Handle one "push" message from recorder `rid` (on connection `conn_id`)."""
        ref = message.get("ref")
        if not isinstance(ref, str) or not 0 < len(ref) <= 64:
            raise BadRequest("push needs a ref (a string of at most 64 characters)")
        items = message.get("items")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
            raise BadRequest(f"items must be a list of 1-{MAX_ITEMS} notifications")
        results: list[dict[str, Any]] = [{} for _ in items]
        try:
            self._limiter.hit(f"rec_{rid}", "pushes", self._per_minute, len(items))
        except RelayError as exc:  # too many, or the store failing: the recorder keeps them
            status = 429 if isinstance(exc, RateLimited) else 0
            results = [_result(Outcome.RETRY_LATER, status, reason=exc.reason) for _ in items]
            self._answer(rid, conn_id, ref, results)
            return
        jobs = [
            job
            for index, item in enumerate(items)
            if (job := self._prepare(rid, item, results, index)) is not None
        ]
        if not jobs:
            self._answer(rid, conn_id, ref, results)
            return
        left = [len(jobs)]

        def finished() -> None:  # the last delivery of the message answers for all
            with self._lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                self._answer(rid, conn_id, ref, results)

        self._run([_then(job, finished) for job in jobs])

    def _prepare(
        self, rid: str, item: object, results: list[dict[str, Any]], index: int
    ) -> Job | None:
        """Check and claim one notification: the job that delivers it (its result written
        into `results[index]`), or None with the result already there."""
        try:
            if not isinstance(item, dict):
                raise BadRequest("each item is a JSON object")
            event, request = parse(item)
        except RelayError as exc:
            results[index] = _result(Outcome.REJECTED, 0, reason=exc.reason)
            return None
        key = hashlib.sha256(f"{rid}\0{event}\0{request.endpoint}".encode()).hexdigest()[:40]
        try:
            claimed, done = self._claim(rid, key)
        except RelayError as exc:  # the store failed: the recorder keeps it for later
            results[index] = _result(Outcome.RETRY_LATER, 0, reason=exc.reason)
            return None
        if not claimed:
            self.stats["duplicates"] += 1
            # None: another delivery of it is in flight.
            results[index] = _result(done or Outcome.RETRY_LATER, 0, dup=True)
            return None
        with self._lock:
            busy = self._pending >= self._max_pending
            if not busy:
                self._pending += 1
        if busy:
            self._settle(rid, key, Outcome.RETRY_LATER)
            results[index] = _result(Outcome.RETRY_LATER, 0, reason="relay busy")
            return None

        def deliver() -> None:
            try:
                outcome, status = self._delivery.deliver(request)
            except Exception:  # never lose the answer: the recorder would wait in vain
                log.exception("push delivery failed")
                outcome, status = Outcome.RETRY_LATER, 0
            finally:
                with self._lock:
                    self._pending -= 1
            self.stats[outcome.value] += 1
            self._settle(rid, key, outcome)
            results[index] = _result(outcome, status)

        return deliver

    def _claim(self, rid: str, key: str) -> tuple[bool, Outcome | None]:
        """(True, None) if this delivery is ours to make; else (False, the final outcome
        already recorded, or None while another attempt is in flight)."""
        pk, now = f"push#{rid}", int(self._clock.now())
        expires = now + self._dedupe_s
        fresh = {"state": "sending", "at": now}
        if self._items.put(pk, key, fresh, expires_at=expires, if_absent=True):
            return True, None
        found = self._items.get(pk, key)
        if found is None:  # expired between the two calls
            return self._items.put(pk, key, fresh, expires_at=expires, if_absent=True), None
        state = str(found.get("state"))
        if state in {o.value for o in FINAL}:
            return False, Outcome(state)
        if state == "sending" and now - int(found.get("at", 0)) < IN_FLIGHT_S:
            return False, None
        taken = self._items.update(pk, key, fresh, expect={"state": state, "at": found.get("at")})
        return taken is not None, None

    def _settle(self, rid: str, key: str, outcome: Outcome) -> None:
        try:
            self._items.update(f"push#{rid}", key, {"state": outcome.value})
        except RelayError:
            log.warning("push outcome not recorded (a resend may be delivered again)")

    def _answer(self, rid: str, conn_id: str, ref: str, results: list[dict[str, Any]]) -> None:
        message = _dump({"t": "pushed", "ref": ref, "results": results})
        # The newest connection: the one the message came on may have rolled over meanwhile.
        target = self._recorders.route(rid) or conn_id
        if not self._sender.send(target, message) and target != conn_id:
            self._sender.send(conn_id, message)


def _result(
    outcome: Outcome, status: int, *, dup: bool = False, reason: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"outcome": outcome.value, "status": status}
    if dup:
        result["dup"] = True
    if reason is not None:
        result["reason"] = reason
    return result


def _then(job: Job, after: Callable[[], None]) -> Job:
    def both() -> None:
        try:
            job()
        finally:
            after()

    return both


def run_inline(jobs: Sequence[Job]) -> None:
    """AWS: the message's deliveries in threads of this invocation, waited for."""
    if len(jobs) == 1:
        jobs[0]()
        return
    with ThreadPoolExecutor(len(jobs), thread_name_prefix="push") as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()
