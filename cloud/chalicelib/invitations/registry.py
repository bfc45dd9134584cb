"""The relay knows an invitation only by its id, the recorder that registered it and when it
expires: enough to let an invitee create an account and open one enrollment session. The
invitation's secret stays in the link's fragment and on the recorder."""

from __future__ import annotations

from ..clock import Clock
from ..errors import BadRequest
from ..ids import token_id
from ..storage.items import ItemStore


class InvitationRegistry:
    def __init__(self, items: ItemStore, clock: Clock, max_s: int) -> None:
        self._items = items
        self._clock = clock
        self._max_s = max_s

    def register(self, inv: object, rid: str, expires_at: object) -> str:
        inv_id = token_id(inv, "inv")
        if not isinstance(expires_at, int) or isinstance(expires_at, bool):
            raise BadRequest("exp must be epoch seconds")
        now = int(self._clock.now())
        if expires_at <= now:
            raise BadRequest("invitation already expired")
        expires_at = min(expires_at, now + self._max_s)
        if not self._items.put(
            f"inv#{inv_id}",
            "meta",
            {"rid": rid, "exp": expires_at},
            expires_at=expires_at,
            if_absent=True,
        ):
            existing = self._items.get(f"inv#{inv_id}", "meta")
            if existing is None or existing.get("rid") != rid:
                raise BadRequest("invitation id already in use")
        return inv_id

    def recorder_of(self, inv: object) -> str | None:
        """The recorder that registered a live invitation, or None."""
        item = self._items.get(f"inv#{token_id(inv, 'inv')}", "meta")
        return None if item is None else str(item["rid"])

    def used(self, inv: object, rid: str) -> bool:
        return (
            self._items.delete(f"inv#{token_id(inv, 'inv')}", "meta", expect={"rid": rid})
            is not None
        )
