"""`MediaService`: the relay's part of remote media. It hands out rights, never sees content.

- A recorder asks (over its authenticated relay connection) for a media session for one of the
  accounts it serves: the relay checks that account's grant on the recorder, makes a random
  session id and returns upload rights limited to `media/RID/MSID/` for `upload_s`. The
  recorder renews them while its viewer renews its lease; each renewal checks the grant again.
- A device asks (REST, Bearer) for download links: for media keys, the session must be live
  and its own; for thumbnail keys, its account must hold a grant on the recorder.
- A revoked grant or a disabled account ends its media sessions at once: no more renewals, no
  more links (links already given expire within `link_s`).

Items: `media#MSID/meta` {rid, acct, kind, at} and indexes `acct#ACCT/media#MSID`, all expiring
after `session_max_s`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ..accounts.service import AccountService
from ..audit.log import AuditLog
from ..clock import Clock
from ..errors import BadRequest, Forbidden, NoGrant, NotFound
from ..grants.grants import GrantStore
from ..ids import b64url, session_id, token_id
from ..storage.items import ItemStore
from .keys import ObjectRef, media_prefix, parse_key, thumbnails_prefix
from .links import LinkSigner
from .uploads import UploadSigner

KINDS = frozenset({"live", "playback", "clip"})
MAX_LINKS = 64


@dataclass(frozen=True)
class MediaLimits:
    upload_s: int = 300
    link_s: int = 60
    session_max_s: int = 6 * 3600
    object_max_bytes: int = 64 * 1024 * 1024
    thumbnail_max_bytes: int = 512 * 1024


@dataclass(frozen=True)
class MediaSession:
    msid: str
    rid: str
    acct: str
    kind: str


class MediaService:
    def __init__(
        self,
        items: ItemStore,
        clock: Clock,
        grants: GrantStore,
        accounts: AccountService,
        links: LinkSigner,
        uploads: UploadSigner,
        audit: AuditLog,
        limits: MediaLimits,
    ) -> None:
        self._items = items
        self._clock = clock
        self._grants = grants
        self._accounts = accounts
        self._links = links
        self._uploads = uploads
        self._audit = audit
        self.limits = limits

    # -- recorder side (control messages on its relay connection) ----------------------------

    def _check_grant(self, rid: str, acct: str) -> None:
        account = self._accounts.get(acct)
        if account is None or account.disabled or not self._grants.has(rid, acct):
            raise NoGrant("no grant on this recorder")

    def open(self, rid: str, acct_value: Any, kind: Any) -> dict[str, Any]:
        acct = token_id(acct_value, "acct")
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {sorted(KINDS)}")
        self._check_grant(rid, acct)
        msid = b64url(secrets.token_bytes(16))
        now = int(self._clock.now())
        expires = now + self.limits.session_max_s
        item = {"rid": rid, "acct": acct, "kind": kind, "at": now}
        self._items.put(f"media#{msid}", "meta", item, expires_at=expires)
        self._items.put(f"acct#{acct}", f"media#{msid}", {"rid": rid}, expires_at=expires)
        self._audit.record("media_opened", acct=acct, rid=rid, sid=msid, detail=kind)
        return {"msid": msid, "upload": self._form(media_prefix(rid, msid)).to_wire()}

    def _session(self, msid_value: Any) -> MediaSession | None:
        msid = session_id(msid_value)
        item = self._items.get(f"media#{msid}", "meta")
        if item is None:
            return None
        return MediaSession(msid, str(item["rid"]), str(item["acct"]), str(item["kind"]))

    def renew(self, rid: str, msid_value: Any) -> dict[str, Any]:
        session = self._session(msid_value)
        if session is None or session.rid != rid:
            raise NotFound("no such media session")
        try:
            self._check_grant(rid, session.acct)
        except NoGrant:
            self._forget(session)
            raise
        return {
            "msid": session.msid,
            "upload": self._form(media_prefix(rid, session.msid)).to_wire(),
        }

    def end(self, rid: str, msid_value: Any) -> None:
        session = self._session(msid_value)
        if session is not None and session.rid == rid:
            self._forget(session)

    def thumbnail_rights(self, rid: str) -> dict[str, Any]:
        """Rights to upload this recorder's event thumbnails: only for a recorder someone may
        read them from (at least one grant), so the store is not free space for anyone."""
        if not self._grants.of_recorder(rid):
            raise NoGrant("no account is granted this recorder")
        form = self._uploads.presign_post(
            thumbnails_prefix(rid), self.limits.thumbnail_max_bytes, self.limits.upload_s
        )
        return {"upload": form.to_wire()}

    def _form(self, prefix: str) -> Any:
        return self._uploads.presign_post(
            prefix, self.limits.object_max_bytes, self.limits.upload_s
        )

    def _forget(self, session: MediaSession) -> None:
        if self._items.delete(f"media#{session.msid}", "meta") is not None:
            self._audit.record("media_ended", acct=session.acct, rid=session.rid, sid=session.msid)
        self._items.delete(f"acct#{session.acct}", f"media#{session.msid}")

    def revoke(self, rid: str, acct: str) -> int:
        """End the account's media sessions with this recorder (grant revoked)."""
        ended = 0
        for sk, item in self._items.query(f"acct#{acct}", "media#"):
            if item.get("rid") == rid:
                self._forget(MediaSession(sk.removeprefix("media#"), rid, acct, ""))
                ended += 1
        return ended

    def account_disabled(self, acct: str) -> None:
        for sk, item in self._items.query(f"acct#{acct}", "media#"):
            self._forget(MediaSession(sk.removeprefix("media#"), str(item["rid"]), acct, ""))

    # -- device side (REST) -------------------------------------------------------------------

    def links(self, acct: str, keys: object) -> dict[str, Any]:
        if not isinstance(keys, list) or not 0 < len(keys) <= MAX_LINKS:
            raise BadRequest(f"keys must be a list of 1..{MAX_LINKS} object keys")
        refs = [parse_key(k) for k in keys]
        for rid in {r.rid for r in refs}:
            if not self._grants.has(rid, acct):
                raise NoGrant("no grant on this recorder")
        for ref in refs:
            if ref.msid is None:
                continue
            session = self._session(ref.msid)
            if session is None or session.acct != acct or session.rid != ref.rid:
                raise Forbidden("no such media session for this account")
        expires = int(self._clock.now()) + self.limits.link_s
        return {"links": self._links.sign(_scopes(refs), self.limits.link_s), "expires_at": expires}


def _scopes(refs: list[ObjectRef]) -> dict[str, list[str]]:
    """The keys grouped under what their reader may read: its media session's prefix, or the
    recorder's thumbnails (any of which a grant lets the account ask a link for)."""
    scopes: dict[str, list[str]] = {}
    for ref in refs:
        prefix = thumbnails_prefix(ref.rid) if ref.msid is None else media_prefix(ref.rid, ref.msid)
        scopes.setdefault(prefix, []).append(ref.key)
    return scopes
