"""POSTing one encrypted notification to its push service, with the relay's VAPID signature.

Outcomes are the recorder's (recorder/push/sender.py `Outcome`): 2xx `delivered`; 404/410
`gone` (the recorder deletes the subscription); 429 and 5xx are tried again here, waiting the
push service's Retry-After when given (capped) or exponential backoff with full jitter, then
`retry_later` like a transport failure (the recorder keeps it in its outbox); another 4xx, or an
endpoint the relay refuses to call, `rejected`.

Synchronous (urllib3, one pool per push origin and address): a Chalice handler is a plain
function; concurrency comes from the caller (the local host's delivery pool, or one Lambda
invocation per message in AWS).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from .endpoints import RefusedEndpoint, Target, check_endpoint, public_address
from .vapid import VapidSigner

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    RETRY_LATER = "retry_later"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PushRequest:
    """What the recorder hands over: nothing here is readable but the endpoint."""

    endpoint: str
    body: bytes  # aes128gcm ciphertext made by the recorder for the browser
    ttl_s: int
    urgency: str
    topic: str


@dataclass(frozen=True)
class DeliveryPolicy:
    attempts: int = 3
    timeout_s: float = 10.0
    backoff_cap_s: float = 10.0
    allow_loopback: bool = False
    pool_size: int = 16


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: our own backoff instead


class PushDelivery:
    def __init__(
        self,
        signer: VapidSigner,
        policy: DeliveryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._signer = signer
        self._policy = policy
        self._sleep = sleep
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    @property
    def public_key(self) -> str:
        return self._signer.public_key

    def deliver(self, request: PushRequest) -> tuple[Outcome, int]:
        """The outcome and the last HTTP status (0: no answer)."""
        policy = self._policy
        try:
            target = check_endpoint(request.endpoint, allow_loopback=policy.allow_loopback)
        except RefusedEndpoint as exc:
            log.warning("push endpoint refused: %s", exc.reason)
            return Outcome.REJECTED, 0
        status = 0
        for attempt in range(1, policy.attempts + 1):
            try:
                status, retry_after = self._post(target, request)
            except RefusedEndpoint as exc:
                log.warning("push endpoint refused: %s", exc.reason)
                return Outcome.REJECTED, 0
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                log.info("push service unreachable (%s)", type(exc).__name__)
                return Outcome.RETRY_LATER, 0
            if 200 <= status < 300:
                return Outcome.DELIVERED, status
            if status in (404, 410):
                return Outcome.GONE, status
            if status != 429 and status < 500:
                log.warning("push service rejected a notification: %d", status)
                return Outcome.REJECTED, status
            if attempt < policy.attempts:
                backoff = random.uniform(0, 0.5 * 2 ** (attempt - 1))
                self._sleep(
                    min(policy.backoff_cap_s, backoff if retry_after is None else retry_after)
                )
        log.info("push service still answering %d", status)
        return Outcome.RETRY_LATER, status

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        address = public_address(target, allow_loopback=self._policy.allow_loopback)
        key = (target.scheme, target.host, target.port, address)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(total=self._policy.timeout_s)
                size = self._policy.pool_size
                if target.scheme == "https":
                    # Connect to the checked address; TLS still verifies the URL's host name.
                    pool = urllib3.HTTPSConnectionPool(
                        address, target.port, timeout=timeout, maxsize=size, block=False,
                        retries=False, server_hostname=target.host, assert_hostname=target.host,
                    )  # fmt: skip
                else:
                    pool = urllib3.HTTPConnectionPool(
                        address, target.port, timeout=timeout, maxsize=size, block=False,
                        retries=False,
                    )  # fmt: skip
                self._pools[key] = pool
            return pool

    def _post(self, target: Target, request: PushRequest) -> tuple[int, float | None]:
        default = 443 if target.scheme == "https" else 80
        host = target.host if ":" not in target.host else f"[{target.host}]"
        headers = {
            "Host": host if target.port == default else f"{host}:{target.port}",
            "Authorization": self._signer.authorization(request.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(request.ttl_s),
            "Urgency": request.urgency,
            "Topic": request.topic,
        }
        response = self._pool(target).urlopen(
            "POST", target.path, body=request.body, headers=headers, redirect=False,
            assert_same_host=False, preload_content=True,
        )  # fmt: skip
        return response.status, _retry_after(response.headers.get("Retry-After"))

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
