"""Recorders the relay has met: their public key (registered on first contact), version, last
seen, and their live connections. Sessions are routed to the newest connection of a recorder
(make-before-break: during a rollover both are open and either may still deliver).

Items: `rec#RID/profile`, `rec#RID/conn#CONN` (one per live connection), `recorders/RID`
(the console's list), `nonce#N/meta` (single-use challenges).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..audit.log import AuditLog
from ..clock import Clock
from ..errors import Forbidden, NotFound
from ..ids import b64url, recorder_id, token_id
from ..storage.items import ItemStore
from .identity import verify_connect


@dataclass(frozen=True)
class Recorder:
    rid: str
    online: bool
    connection: str | None
    version: str | None
    last_seen: int
    registered_at: int
    disabled: bool


class RecorderRegistry:
    def __init__(self, items: ItemStore, clock: Clock, audit: AuditLog, challenge_s: int) -> None:
        self._items = items
        self._clock = clock
        self._audit = audit
        self._challenge_s = challenge_s

    def challenge(self, rid: object) -> tuple[str, int]:
        rid_s = recorder_id(rid)
        nonce = b64url(secrets.token_bytes(32))
        expires = int(self._clock.now()) + self._challenge_s
        self._items.put(f"nonce#{nonce}", "meta", {"rid": rid_s}, expires_at=expires)
        return nonce, expires

    def connect(
        self,
        conn_id: str,
        rid: object,
        pk: object,
        nonce: object,
        sig: object,
        version: object,
        address: str,
    ) -> str:
        """Verify a recorder's connect and make this connection its newest; returns the RID."""
        rid_s = recorder_id(rid)
        nonce_s = token_id(nonce, "nonce")
        try:
            # Consume first: a nonce is spent even by a failed attempt.
            if self._items.delete(f"nonce#{nonce_s}", "meta", expect={"rid": rid_s}) is None:
                raise Forbidden("challenge unknown, used or expired")
            public_key = b64url(verify_connect(rid_s, pk, nonce_s, sig))
            now = int(self._clock.now())
            profile = {"key": public_key, "registered_at": now, "last_seen": now, "disabled": False}
            if self._items.put(
                f"rec#{rid_s}", "profile", {**profile, "conn": None}, if_absent=True
            ):
                self._items.put("recorders", rid_s, {"registered_at": now})
                self._audit.record("recorder_registered", rid=rid_s, address=address)
            else:
                existing = self._items.get(f"rec#{rid_s}", "profile") or {}
                if existing.get("key") != public_key:  # unreachable unless SHA-256 collides
                    raise Forbidden("recorder id registered with another key")
                if existing.get("disabled"):
                    raise Forbidden("recorder disabled")
        except Forbidden as exc:
            self._audit.record("recorder_refused", rid=rid_s, address=address, detail=exc.reason)
            raise
        self._items.put(
            f"rec#{rid_s}", f"conn#{conn_id}", {"connected_at_ms": int(self._clock.now() * 1000)}
        )
        changes: dict[str, object] = {"conn": conn_id, "last_seen": int(self._clock.now())}
        if isinstance(version, str) and 0 < len(version) <= 64:
            changes["version"] = version
        self._items.update(f"rec#{rid_s}", "profile", changes)
        self._audit.record("recorder_connected", rid=rid_s, address=address)
        return rid_s

    def disconnect(self, rid: str, conn_id: str) -> str | None:
        """Forget a connection; returns the recorder's newest remaining connection, if any."""
        self._items.delete(f"rec#{rid}", f"conn#{conn_id}")
        remaining = self._items.query(f"rec#{rid}", "conn#")
        newest = None
        if remaining:
            sk, _ = max(remaining, key=lambda row: int(row[1]["connected_at_ms"]))
            newest = sk.removeprefix("conn#")
        self._items.update(
            f"rec#{rid}", "profile", {"conn": newest, "last_seen": int(self._clock.now())}
        )
        return newest

    def disable(self, rid: str) -> list[str]:
        """Refuse this recorder from now on; returns its live connections (to close)."""
        if self._items.update(f"rec#{rid}", "profile", {"disabled": True, "conn": None}) is None:
            raise NotFound("no such recorder")
        return [sk.removeprefix("conn#") for sk, _ in self._items.query(f"rec#{rid}", "conn#")]

    def route(self, rid: str) -> str | None:
        """The connection that sessions to this recorder go to, or None if it is offline."""
        item = self._items.get(f"rec#{rid}", "profile")
        if item is None or item.get("disabled"):
            return None
        conn = item.get("conn")
        return None if conn is None else str(conn)

    def seen(self, rid: str, version: str | None = None) -> None:
        changes: dict[str, object] = {"last_seen": int(self._clock.now())}
        if version is not None:
            changes["version"] = version
        self._items.update(f"rec#{rid}", "profile", changes)

    def get(self, rid: str) -> Recorder | None:
        item = self._items.get(f"rec#{rid}", "profile")
        if item is None:
            return None
        conn = item.get("conn")
        return Recorder(
            rid=rid,
            online=conn is not None,
            connection=None if conn is None else str(conn),
            version=item.get("version"),
            last_seen=int(item["last_seen"]),
            registered_at=int(item["registered_at"]),
            disabled=bool(item.get("disabled")),
        )

    def list(self) -> list[Recorder]:
        found = (self.get(rid) for rid, _ in self._items.query("recorders"))
        return [r for r in found if r is not None]
