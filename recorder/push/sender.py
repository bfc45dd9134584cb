"""Delivering encrypted notifications: the `PushSender` seam and the direct adapter.

The recorder encrypts each notification for its subscription (payload.py) and hands a
`PushMessage` (ciphertext and the TTL/Urgency/Topic headers) to a `PushSender`:
- `DirectSender` (a LAN-only install): signs with the recorder's VAPID key and POSTs to the
  push service itself;
- a relay adapter (issue 17, once the tunnel is on main) implements the same Protocol by handing
  the message to the tunnel: the relay adds the VAPID signature and delivers, and answers with
  the push service's outcome. It never sees plaintext: the body is already encrypted for the
  browser, and TTL/Urgency/Topic carry nothing readable (the topic is a hash).

Outcomes: 2xx delivered; 404/410 gone (the caller deletes the subscription); 429 and 5xx are
retried here with exponential backoff honouring Retry-After, then reported as `RETRY_LATER`
like a transport failure (the caller queues them on disk); any other 4xx is `REJECTED`.
"""

from __future__ import annotations

import enum
import logging
import random
from typing import Protocol

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from recorder.push.config import PushConfig
from recorder.push.endpoint import GuardedResolver, check_endpoint
from recorder.push.errors import BadSubscription, RefusedAddress
from recorder.push.payload import PushMessage
from recorder.push.vapid import VapidKey

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"  # 404/410: the browser unsubscribed; delete the subscription
    RETRY_LATER = "retry_later"  # transport failure, or 429/5xx after every try
    REJECTED = "rejected"  # another 4xx (bad VAPID, payload too large): retrying will not help


class PushSender(Protocol):
    async def deliver(self, message: PushMessage) -> Outcome:
        """Deliver one encrypted notification; never raises for a delivery failure."""

    async def close(self) -> None: ...


class _TryAgain(Exception):
    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(f"push service answered {status}")
        self.status = status
        self.retry_after_s = retry_after_s


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class DirectSender:
    """POSTs to the push service with the recorder's VAPID signature (aiohttp, one session,
    at most `config.concurrency` connections, only to public addresses)."""

    def __init__(self, config: PushConfig, vapid: VapidKey) -> None:
        self._config = config
        self._vapid = vapid
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._config.concurrency,
                resolver=GuardedResolver(self._config.allow_loopback),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_s),
            )
        return self._session

    def _wait(self, state: RetryCallState) -> float:
        cap = self._config.backoff_cap_s
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _TryAgain) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, cap)
        return min(cap, random.uniform(0, 0.5 * 2 ** (state.attempt_number - 1)))

    async def deliver(self, message: PushMessage) -> Outcome:
        try:
            # Again at send time: IP literals bypass the resolver's check.
            check_endpoint(message.endpoint, allow_loopback=self._config.allow_loopback)
        except BadSubscription as exc:
            log.warning("push endpoint refused: %s", exc)
            return Outcome.REJECTED
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._config.attempts),
                wait=self._wait,
                retry=retry_if_exception_type(_TryAgain),
                reraise=True,
            ):
                with attempt:
                    return await self._post(message)
        except _TryAgain as exc:
            log.info("push service still answering %d: queued for later", exc.status)
            return Outcome.RETRY_LATER
        except RefusedAddress as exc:
            log.warning("push endpoint refused: %s", exc)
            return Outcome.REJECTED
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("push service unreachable (%s): queued for later", type(exc).__name__)
            return Outcome.RETRY_LATER
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, message: PushMessage) -> Outcome:
        headers = message.headers()
        headers["Authorization"] = self._vapid.authorization(message.endpoint)
        async with self._client().post(
            message.endpoint, data=message.body, headers=headers
        ) as response:
            status = response.status
            await response.read()
            if 200 <= status < 300:
                return Outcome.DELIVERED
            if status in (404, 410):
                return Outcome.GONE
            if status == 429 or status >= 500:
                raise _TryAgain(status, _retry_after(response.headers.get("Retry-After")))
            log.warning("push service rejected a notification: %d", status)
            return Outcome.REJECTED

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
