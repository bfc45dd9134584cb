"""The tunnel's routing: the three WebSocket routes of API Gateway ($connect, $default,
$disconnect), as plain functions of (connection id, query or body).

Every message is handled on its own and answered by posting to connections, never by waiting
(one Lambda invocation per message, no order between them). The relay checks roles, parties,
grants and rates; "hs" and "ct" are forwarded untouched and never logged or stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from ..accounts.service import AccountService
from ..audit.log import AuditLog
from ..config import RelayConfig
from ..errors import BadRequest, Forbidden, NoGrant, Offline, RelayError, UnknownSession
from ..grants.grants import GrantStore
from ..ids import recorder_id, session_id, token_id
from ..invitations.registry import InvitationRegistry
from ..media.service import MediaService
from ..push.relay import PushRelay
from ..recorders.registry import RecorderRegistry
from ..tickets.tickets import TicketOffice
from .connections import DEVICE, RECORDER, Connection, ConnectionTable
from .ratelimit import AccountRateLimiter
from .sender import Sender
from .sessions import Session, SessionTable

log = logging.getLogger(__name__)

_B64_MAX = 48 * 1024


def _dump(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _opaque(message: Mapping[str, Any], field: str) -> str:
    value = message.get(field)
    if not isinstance(value, str) or not value or len(value) > _B64_MAX:
        raise BadRequest(f"{field} must be a non-empty base64 string")
    return value


class Router:
    def __init__(
        self,
        config: RelayConfig,
        connections: ConnectionTable,
        sessions: SessionTable,
        recorders: RecorderRegistry,
        grants: GrantStore,
        invitations: InvitationRegistry,
        tickets: TicketOffice,
        accounts: AccountService,
        limiter: AccountRateLimiter,
        audit: AuditLog,
        sender: Sender,
        media: MediaService,
        push: PushRelay | None = None,
    ) -> None:
        self._config = config
        self._conns = connections
        self._sessions = sessions
        self._recorders = recorders
        self._grants = grants
        self._invitations = invitations
        self._tickets = tickets
        self._accounts = accounts
        self._limiter = limiter
        self._audit = audit
        self._sender = sender
        self._media = media
        self._push = push

    # -- $connect / $disconnect ----------------------------------------------------------

    def connect(self, conn_id: str, query: Mapping[str, str], address: str) -> None:
        """Admit a connection or raise (the route answers 4xx and API Gateway refuses it)."""
        role = query.get("role")
        if role == RECORDER:
            rid = self._recorders.connect(
                conn_id,
                query.get("rid"),
                query.get("pk"),
                query.get("nonce"),
                query.get("sig"),
                query.get("v"),
                address,
            )
            self._conns.add(conn_id, RECORDER, rid=rid)
        elif role == DEVICE:
            acct = self._tickets.consume(query.get("ticket"))
            account = self._accounts.get(acct)
            if account is None or account.disabled:
                raise Forbidden("account disabled")
            self._conns.add(conn_id, DEVICE, acct=acct)
        else:
            raise BadRequest("role must be recorder or device")

    def disconnect(self, conn_id: str) -> None:
        conn = self._conns.remove(conn_id)
        if conn is None:
            return
        if conn.role == DEVICE:
            for sid in self._sessions.of_connection(conn_id):
                self._end(sid, "device_left", notify_device=False)
        elif conn.rid is not None and self._recorders.disconnect(conn.rid, conn_id) is None:
            # The recorder's last connection: its sessions cannot go on.
            for sid in self._sessions.of_recorder(conn.rid):
                self._end(sid, "offline", notify_recorder=False)

    def disconnect_all(self) -> int:
        """Forget every connection the store lists: the local host restarted, so none of them
        is still open (API Gateway keeps its connections across Lambda restarts: not used)."""
        stale = self._conns.all()
        for conn_id in stale:
            self.disconnect(conn_id)
        return len(stale)

    # -- $default ----------------------------------------------------------------------

    def message(self, conn_id: str, body: str | None) -> None:
        sid: str | None = None
        ref: object = None
        try:
            if body is None or len(body.encode()) > self._config.max_message_bytes:
                limit = self._config.max_message_bytes
                raise BadRequest(f"a message is one JSON object of at most {limit} bytes")
            try:
                message = json.loads(body)
            except ValueError as exc:
                raise BadRequest("not JSON") from exc
            if not isinstance(message, dict):
                raise BadRequest("a message is a JSON object")
            raw_sid = message.get("sid")
            sid = raw_sid if isinstance(raw_sid, str) and len(raw_sid) <= 64 else None
            ref = message.get("ref")
            conn = self._conns.get(conn_id)
            if conn is None:
                raise BadRequest("unknown connection")
            self._dispatch(conn, message)
        except RelayError as exc:
            error: dict[str, Any] = {"t": "error", "sid": sid, "code": exc.code}
            error["reason"] = exc.reason
            if isinstance(exc, Offline) and exc.last_seen is not None:
                error["last_seen"] = exc.last_seen  # a device shows "offline, last seen ..."
            if isinstance(ref, str | int) and not isinstance(ref, bool) and len(str(ref)) <= 64:
                error["ref"] = ref  # the sender waiting on its ref hears now, not at its timeout
            self._send(conn_id, error)

    def _dispatch(self, conn: Connection, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "ping":
            self._send(conn.id, {"t": "pong"})
            if conn.rid is not None:
                self._recorders.seen(conn.rid)
        elif kind == "data":
            self._data(conn, message)
        elif kind == "open" and conn.role == DEVICE:
            self._open(conn, message)
        elif kind == "accept" and conn.role == RECORDER:
            self._accept(conn, message)
        elif kind == "close":
            self._close(conn, message)
        elif kind == "push" and conn.role == RECORDER and self._push is not None:
            assert conn.rid is not None
            self._push.accept(conn.rid, conn.id, message)
        elif conn.role == RECORDER and kind in (
            "invite",
            "invite_used",
            "grant",
            "revoke",
            "hello",
            "media_open",
            "media_renew",
            "media_end",
            "thumbs_open",
        ):
            self._control(conn, message)
        else:
            raise BadRequest(f"unknown message type for a {conn.role}")

    def _open(self, conn: Connection, message: dict[str, Any]) -> None:
        assert conn.acct is not None
        sid = session_id(message.get("sid"))
        rid = recorder_id(message.get("rid"))
        hs = _opaque(message, "hs")
        inv = message.get("inv")
        self._limiter.hit(conn.acct, "opens", self._config.opens_per_minute)
        try:
            if inv is not None:
                if self._invitations.recorder_of(token_id(inv, "inv")) != rid:
                    raise NoGrant("invitation unknown, used or for another recorder")
            elif not self._grants.has(rid, conn.acct):
                raise NoGrant("no grant on this recorder")
            target = self._recorders.route(rid)
            if target is None:
                known = self._recorders.get(rid)
                raise Offline("recorder offline", None if known is None else known.last_seen)
            if self._sessions.open(sid, conn.acct, rid, conn.id) is None:
                raise BadRequest("session id in use")
        except RelayError as exc:
            self._audit.record("session_refused", acct=conn.acct, rid=rid, sid=sid, detail=exc.code)
            raise
        forward: dict[str, Any] = {"t": "open", "sid": sid, "acct": conn.acct, "hs": hs}
        if inv is not None:
            forward["inv"] = inv
        if not self._sender.send(target, _dump(forward)):
            self._sessions.close(sid)
            raise Offline("recorder offline")
        self._audit.record("session_opened", acct=conn.acct, rid=rid, sid=sid)

    def _party_session(self, conn: Connection, message: dict[str, Any]) -> Session:
        sid = session_id(message.get("sid"))
        session = self._sessions.get(sid)
        if session is None:
            raise UnknownSession("unknown session")
        if conn.role == DEVICE and session.device_conn != conn.id:
            raise UnknownSession("unknown session")
        if conn.role == RECORDER and session.rid != conn.rid:
            raise UnknownSession("unknown session")
        return session

    def _other_end(self, conn: Connection, session: Session) -> str:
        if conn.role == DEVICE:
            target = self._recorders.route(session.rid)
            if target is None:
                raise Offline("recorder offline")
            return target
        return session.device_conn

    def _accept(self, conn: Connection, message: dict[str, Any]) -> None:
        session = self._party_session(conn, message)
        _opaque(message, "hs")
        self._forward(conn, session, message)

    def _data(self, conn: Connection, message: dict[str, Any]) -> None:
        session = self._party_session(conn, message)
        seq = message.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**64:
            raise BadRequest("seq must be an unsigned 64-bit integer")
        _opaque(message, "ct")
        self._limiter.hit(session.acct, "messages", self._config.messages_per_minute)
        self._forward(conn, session, message)

    def _forward(self, conn: Connection, session: Session, message: dict[str, Any]) -> None:
        target = self._other_end(conn, session)
        if not self._sender.send(target, _dump(message)):
            # The other end is gone: this session cannot go on.
            self._end(
                session.sid,
                "offline",
                notify_device=conn.role == RECORDER,
                notify_recorder=conn.role == DEVICE,
            )

    def _close(self, conn: Connection, message: dict[str, Any]) -> None:
        session = self._party_session(conn, message)
        if self._sessions.close(session.sid) is None:
            return
        reason = message.get("reason")
        out: dict[str, Any] = {"t": "close", "sid": session.sid}
        if isinstance(reason, str) and len(reason) <= 64:
            out["reason"] = reason
        target = (
            session.device_conn if conn.role == RECORDER else self._recorders.route(session.rid)
        )
        if target is not None:
            self._sender.send(target, _dump(out))
        self._audit.record(
            "session_closed",
            acct=session.acct,
            rid=session.rid,
            sid=session.sid,
            detail="by device" if conn.role == DEVICE else "by recorder",
        )

    # -- recorder control -----------------------------------------------------------------

    def _control(self, conn: Connection, message: dict[str, Any]) -> None:
        assert conn.rid is not None
        rid, kind = conn.rid, message["t"]
        ack: dict[str, Any] = {"t": "ok"}
        if kind == "media_open":
            ack |= self._media.open(rid, message.get("acct"), message.get("kind"))
        elif kind == "media_renew":
            ack |= self._media.renew(rid, message.get("msid"))
        elif kind == "media_end":
            self._media.end(rid, message.get("msid"))
        elif kind == "thumbs_open":
            ack |= self._media.thumbnail_rights(rid)
        elif kind == "hello":
            version = message.get("version")
            if not isinstance(version, str) or not 0 < len(version) <= 64:
                raise BadRequest("version must be a short string")
            self._recorders.seen(rid, version)
        elif kind == "invite":
            inv = self._invitations.register(message.get("inv"), rid, message.get("exp"))
            self._audit.record("invitation_registered", rid=rid, detail=f"inv {inv}")
        elif kind == "invite_used":
            inv = token_id(message.get("inv"), "inv")
            if self._invitations.used(inv, rid):
                self._audit.record("invitation_used", rid=rid, detail=f"inv {inv}")
        elif kind == "grant":
            acct = token_id(message.get("acct"), "acct")
            account = self._accounts.get(acct)
            if account is None or account.disabled:
                raise BadRequest("no such account")
            self._grants.add(rid, acct)
            self._audit.record("grant_added", acct=acct, rid=rid, detail="by recorder")
        elif kind == "revoke":
            acct = token_id(message.get("acct"), "acct")
            self.revoke(rid, acct, by="recorder")
        ref = message.get("ref")
        if kind == "hello" and self._push is not None:
            # The key browsers of this recorder subscribe with (the relay signs their pushes).
            try:
                ack["push_key"] = self._push.public_key
            except RelayError as exc:  # no push through this relay; the tunnel still works
                log.warning("no VAPID key for Web Push: %s", exc.reason)
        if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 64:
            ack["ref"] = ref
        self._send(conn.id, ack)

    # -- revocation (recorder, console, account disabled) -----------------------------------

    def revoke(self, rid: str, acct: str, by: str) -> int:
        """Delete a grant and close that account's sessions to the recorder at once."""
        existed = self._grants.revoke(rid, acct)
        self._media.revoke(rid, acct)
        closed = 0
        for sid in self._sessions.of_account(acct):
            session = self._sessions.get(sid)
            if session is not None and session.rid == rid:
                closed += self._end(sid, "revoked")
        if existed:
            self._audit.record("grant_revoked", acct=acct, rid=rid, detail=f"by {by}")
        return closed

    def account_disabled(self, acct: str) -> None:
        """Close every session and device connection of a disabled account."""
        self._media.account_disabled(acct)
        for sid in self._sessions.of_account(acct):
            self._end(sid, "revoked")
        for conn_id in self._conns.of_account(acct):
            self._sender.close(conn_id)

    def recorder_disabled(self, rid: str) -> int:
        """Close a disabled recorder's sessions (devices told `revoked`) and connections."""
        connections = self._recorders.disable(rid)  # first: no new session gets through
        closed = 0
        for sid in self._sessions.of_recorder(rid):
            closed += self._end(sid, "revoked", notify_recorder=False)
        for conn_id in connections:
            self._sender.close(conn_id)
        return closed

    def _end(
        self, sid: str, reason: str, *, notify_device: bool = True, notify_recorder: bool = True
    ) -> int:
        session = self._sessions.close(sid)
        if session is None:
            return 0
        message = _dump({"t": "close", "sid": sid, "reason": reason})
        if notify_device:
            self._sender.send(session.device_conn, message)
        if notify_recorder:
            target = self._recorders.route(session.rid)
            if target is not None:
                self._sender.send(target, message)
        self._audit.record(
            "session_closed", acct=session.acct, rid=session.rid, sid=sid, detail=reason
        )
        return 1

    def _send(self, conn_id: str, message: Mapping[str, Any]) -> None:
        if not self._sender.send(conn_id, _dump(message)):
            log.debug("connection %s gone before a reply", conn_id)
