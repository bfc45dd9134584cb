"""Object expiry on the local host: what S3's lifecycle rules do in AWS (infra/components/
media.py). A pure plan (which keys are past their prefix's age) and the store deletes them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ExpiryRule:
    prefix: str
    keep_s: int


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified_at: float  # epoch seconds


def plan_expiry(
    objects: Iterable[StoredObject], rules: Sequence[ExpiryRule], now: float
) -> list[str]:
    """Keys to delete: those under a rule's prefix older than its `keep_s`."""
    doomed = []
    for obj in objects:
        for rule in rules:
            if obj.key.startswith(rule.prefix) and now - obj.modified_at > rule.keep_s:
                doomed.append(obj.key)
                break
    return doomed
