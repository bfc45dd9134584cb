"""A ticket is a random string bound to an account, good for one WebSocket connect within
`ticket_s` seconds. Consuming is an atomic delete, so two connects with one ticket get it once."""

from __future__ import annotations

import secrets

from ..clock import Clock
from ..errors import Forbidden
from ..ids import token_id
from ..storage.items import ItemStore


class TicketOffice:
    def __init__(self, items: ItemStore, clock: Clock, ttl_s: int) -> None:
        self._items = items
        self._clock = clock
        self._ttl_s = ttl_s

    def issue(self, acct: str) -> tuple[str, int]:
        ticket = secrets.token_urlsafe(24)
        expires = int(self._clock.now()) + self._ttl_s
        self._items.put(f"ticket#{ticket}", "meta", {"acct": acct}, expires_at=expires)
        return ticket, expires

    def consume(self, ticket: object) -> str:
        """The account the ticket was issued to; Forbidden if unknown, used or expired."""
        item = self._items.delete(f"ticket#{token_id(ticket, 'ticket')}", "meta")
        if item is None:
            raise Forbidden("ticket unknown, used or expired")
        return str(item["acct"])
