"""`ItemStore`: the one table the relay keeps, as a port.

A single-table design (DynamoDB's): every record is an item under a partition key `pk` and a
sort key `sk`, with flat JSON-able fields and an optional `expires_at` (epoch seconds). Expired
items are absent to every operation even before the backend removes them (DynamoDB's TTL sweeps
up to two days late). Secondary lookups are written as extra items by the domain code, so the
port needs no index: get, put, conditional update and delete, a prefix query on one partition,
and an atomic counter.
"""

from __future__ import annotations

from typing import Any, Protocol

Item = dict[str, Any]
"""Field name -> str | int | bool | None | list | dict. Floats are not stored (DynamoDB has
no float): times are integer seconds or milliseconds. `pk`, `sk` and `expires_at` are reserved."""

RESERVED = frozenset({"pk", "sk", "expires_at"})


class ItemStore(Protocol):
    def get(self, pk: str, sk: str) -> Item | None:
        """The live item, or None."""

    def put(
        self,
        pk: str,
        sk: str,
        item: Item,
        *,
        expires_at: int | None = None,
        if_absent: bool = False,
    ) -> bool:
        """Write the item whole. With `if_absent`, only if no live item has that key: returns
        False (and writes nothing) if one has."""

    def update(self, pk: str, sk: str, changes: Item, *, expect: Item | None = None) -> Item | None:
        """Set fields of a live item if every `expect` field equals its value (None: the field
        is absent or null). Returns the item after the update, or None if the item is absent
        or an expectation failed. Atomic."""

    def delete(self, pk: str, sk: str, *, expect: Item | None = None) -> Item | None:
        """Remove the item (if `expect` holds) and return it as it was; None if there was no
        live item or an expectation failed. Atomic: two racing deletes return it once."""

    def query(
        self, pk: str, prefix: str = "", *, limit: int | None = None, newest_first: bool = False
    ) -> list[tuple[str, Item]]:
        """Live items of one partition whose sort key starts with `prefix`, as (sk, item),
        ordered by sort key (descending with `newest_first`)."""

    def increment(self, pk: str, sk: str, field: str, by: int, *, expires_at: int) -> int:
        """Add `by` to an integer counter (created at 0) and return the new value. The
        counter's expiry is set when it is created."""


def check_fields(item: Item) -> None:
    clash = RESERVED.intersection(item)
    if clash:
        raise ValueError(f"reserved field names: {sorted(clash)}")
