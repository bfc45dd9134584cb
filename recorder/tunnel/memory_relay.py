"""An in-memory relay that routes like the real one (docs/ref/tunnel.md), for tests and benches.

It checks what the relay checks: the recorder's signed connect against a single-use challenge
and its registered key, an account's grant or a live invitation before "open", that a party
belongs to the session it names, the 32 KB frame limit; it forwards "hs" and "ct" untouched,
routes sessions to a recorder's newest connection, and closes sessions at once on "revoke".
`stop()` drops every connection and refuses new ones until `start()`, like a relay going away.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from recorder.tunnel.errors import RelayRefused, RelayUnavailable
from recorder.tunnel.identity import (
    RecorderIdentity,
    b64url,
    connect_message,
    rid_of,
    unb64url,
)
from recorder.tunnel.links import MAX_FRAME, Json, encode

_CLOSED = {"t": "__closed__"}


@dataclass(eq=False)
class MemoryLink:
    """One party's end of a connection to the in-memory relay."""

    relay: MemoryRelay
    role: str
    name: str  # RID for a recorder, account id for a device
    inbox: asyncio.Queue[Json] = field(default_factory=asyncio.Queue)
    closed: bool = False
    sent: int = 0

    async def send(self, message: Json) -> None:
        if self.closed:
            raise RelayUnavailable("relay connection closed")
        text = encode(message)  # raises over one frame, as a real socket would be closed
        self.sent += 1
        await self.relay.handle(self, json.loads(text))

    async def receive(self) -> Json:
        if self.closed and self.inbox.empty():
            raise RelayUnavailable("relay connection closed")
        message = await self.inbox.get()
        if message is _CLOSED:
            raise RelayUnavailable("relay connection closed")
        return message

    async def close(self) -> None:
        self.relay.drop(self)

    def deliver(self, message: Json) -> None:
        if not self.closed:
            if len(encode(message)) > MAX_FRAME:
                raise AssertionError("the relay would never send over one frame")
            self.inbox.put_nowait(message)


@dataclass
class _Session:
    sid: str
    rid: str
    account: str
    device: MemoryLink


@dataclass
class MemoryRelay:
    running: bool = True
    recorder_keys: dict[str, bytes] = field(default_factory=dict)  # RID -> Ed25519 public key
    recorders: dict[str, list[MemoryLink]] = field(default_factory=dict)  # newest last
    grants: set[tuple[str, str]] = field(default_factory=set)  # (account, RID)
    invitations: dict[str, tuple[str, int]] = field(default_factory=dict)  # inv -> (RID, exp)
    sessions: dict[str, _Session] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    log: list[Json] = field(default_factory=list)  # everything routed, for privacy checks
    now: float = 0.0  # seconds; tests move it to expire invitations
    _nonces: set[str] = field(default_factory=set)

    # -- connecting ------------------------------------------------------------------------

    def challenge(self, rid: str) -> str:
        if not self.running:
            raise RelayUnavailable("relay is down")
        nonce = b64url(secrets.token_bytes(32))
        self._nonces.add(nonce)
        return nonce

    def connect_recorder(self, rid: str, pk: str, nonce: str, sig: str) -> MemoryLink:
        if not self.running:
            raise RelayUnavailable("relay is down")
        if nonce not in self._nonces:
            raise RelayRefused("403", "unknown or used nonce")
        self._nonces.discard(nonce)
        try:
            key = unb64url(pk)
            VerifyKey(key).verify(connect_message(rid, nonce), unb64url(sig))
        except (ValueError, BadSignatureError) as exc:
            raise RelayRefused("403", "bad signature") from exc
        if rid_of(key) != rid or self.recorder_keys.setdefault(rid, key) != key:
            raise RelayRefused("403", "key does not match the recorder id")
        link = MemoryLink(self, "recorder", rid)
        self.recorders.setdefault(rid, []).append(link)
        return link

    def connect_device(self, account: str) -> MemoryLink:
        if not self.running:
            raise RelayUnavailable("relay is down")
        self.accounts.add(account)
        return MemoryLink(self, "device", account)

    def stop(self) -> None:
        self.running = False
        for links in list(self.recorders.values()):
            for link in list(links):
                self.drop(link)
        for session in list(self.sessions.values()):
            self.drop(session.device)
        self.sessions.clear()

    def start(self) -> None:
        self.running = True

    def drop(self, link: MemoryLink) -> None:
        if link.closed:
            return
        link.closed = True
        link.inbox.put_nowait(_CLOSED)
        if link.role == "recorder":
            links = self.recorders.get(link.name, [])
            if link in links:
                links.remove(link)
        else:
            for sid in [s.sid for s in self.sessions.values() if s.device is link]:
                self._end(sid, "device gone", notify_device=False)

    def connected(self, rid: str) -> int:
        return len(self.recorders.get(rid, []))

    # -- routing ---------------------------------------------------------------------------

    def _recorder(self, rid: str) -> MemoryLink | None:
        links = self.recorders.get(rid)
        return links[-1] if links else None

    async def handle(self, sender: MemoryLink, message: Json) -> None:
        self.log.append(message)
        kind = message.get("t")
        if kind == "ping":
            sender.deliver({"t": "pong"})
        elif sender.role == "device":
            self._from_device(sender, message)
        else:
            self._from_recorder(sender, message)

    def _error(self, to: MemoryLink, sid: Any, code: str, reason: str) -> None:
        to.deliver({"t": "error", "sid": sid, "code": code, "reason": reason})

    def _from_device(self, device: MemoryLink, message: Json) -> None:
        kind, sid = message.get("t"), message.get("sid")
        if kind == "open":
            rid, inv = str(message.get("rid")), message.get("inv")
            if inv is not None:
                found = self.invitations.get(str(inv))
                if found is None or found[0] != rid or found[1] <= self.now:
                    return self._error(device, sid, "no_grant", "no such live invitation")
            elif (device.name, rid) not in self.grants:
                return self._error(device, sid, "no_grant", "no grant on this recorder")
            recorder = self._recorder(rid)
            if recorder is None:
                return self._error(device, sid, "offline", "recorder not connected")
            if not isinstance(sid, str) or sid in self.sessions:
                return self._error(device, sid, "bad_request", "bad or reused session id")
            self.sessions[sid] = _Session(sid, rid, device.name, device)
            forwarded = {"t": "open", "sid": sid, "acct": device.name, "hs": message.get("hs")}
            if inv is not None:
                forwarded["inv"] = inv
            recorder.deliver(forwarded)
            return None
        session = self.sessions.get(str(sid))
        if session is None or session.device is not device:
            return self._error(device, sid, "unknown_session", "not a session of yours")
        recorder = self._recorder(session.rid)
        if kind == "close":
            self._end(session.sid, message.get("reason", ""), notify_device=False)
        elif kind == "data" and recorder is not None:
            recorder.deliver(message)
        elif recorder is None:
            self._error(device, sid, "offline", "recorder not connected")
        else:
            self._error(device, sid, "bad_request", f"unknown message {kind!r}")
        return None

    def _from_recorder(self, recorder: MemoryLink, message: Json) -> None:
        kind, rid = message.get("t"), recorder.name
        if kind in ("accept", "data", "close"):
            session = self.sessions.get(str(message.get("sid")))
            if session is None or session.rid != rid:
                return self._error(recorder, message.get("sid"), "unknown_session", "unknown")
            if kind == "close":
                self._end(session.sid, str(message.get("reason", "")), notify_recorder=False)
            else:
                session.device.deliver(message)
            return None
        ref = message.get("ref")
        if kind == "invite":
            self.invitations[str(message["inv"])] = (rid, int(message["exp"]))
        elif kind == "invite_used":
            self.invitations.pop(str(message["inv"]), None)
        elif kind == "grant":
            self.grants.add((str(message["acct"]), rid))
        elif kind == "revoke":
            account = str(message["acct"])
            self.grants.discard((account, rid))
            for session in list(self.sessions.values()):
                if session.account == account and session.rid == rid:
                    self._end(session.sid, "revoked")
        elif kind != "hello":
            return self._error(recorder, None, "bad_request", f"unknown message {kind!r}")
        recorder.deliver({"t": "ok", "ref": ref})
        return None

    def _end(
        self, sid: str, reason: str, *, notify_device: bool = True, notify_recorder: bool = True
    ) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        close = {"t": "close", "sid": sid, "reason": reason}
        if notify_device:
            session.device.deliver(close)
        recorder = self._recorder(session.rid)
        if notify_recorder and recorder is not None:
            recorder.deliver(close)


class MemoryRecorderDialer:
    """Dials the in-memory relay the way the real dialer dials a relay: challenge, sign, open."""

    def __init__(self, relay: MemoryRelay) -> None:
        self.relay = relay
        self.dials = 0

    async def dial(self, identity: RecorderIdentity) -> MemoryLink:
        self.dials += 1
        nonce = self.relay.challenge(identity.rid)
        return self.relay.connect_recorder(
            identity.rid, b64url(identity.signing_public), nonce, identity.sign_connect(nonce)
        )
