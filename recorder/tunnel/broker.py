"""The recorder's end of tunnel sessions: handshake, enrollment, calls and notices.

The relay forwards "open" with the device's first handshake message and the cloud account it
authenticated. The recorder answers only a device it knows (its static key enrolled, live, and
enrolled by that same account) or, for an "inv" session, any device, which must then prove
the invitation's secret before anything else. Every call runs as the device's user through
`InProcessApi`; the device and its user are checked again before each call and notice, so a
revocation on the recorder ends access at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from recorder.api.context import ApiContext
from recorder.api.security import authenticate
from recorder.errors import NotFound, RequestError
from recorder.tunnel.channel import SealedChannel, prologue, respond
from recorder.tunnel.devices import Device, DeviceStore
from recorder.tunnel.dispatch import InProcessApi, TunnelLogin
from recorder.tunnel.errors import (
    EnrollmentFailed,
    FramingError,
    HandshakeFailed,
    MessageRefused,
    TunnelError,
)
from recorder.tunnel.framing import Message, Reassembler, split
from recorder.tunnel.identity import RecorderIdentity, b64url, unb64url
from recorder.tunnel.invitations import InvitationStore
from recorder.tunnel.links import Json

log = logging.getLogger(__name__)
MAX_CALLS_IN_FLIGHT = 8  # per session
MAX_SESSIONS = 256  # per recorder: beyond it new sessions are refused ("busy")
ENROLL_BYTES = 4096  # what an "inv" session may send before it has enrolled


class RelaySender(Protocol):
    async def send(self, message: Json) -> None:
        """Send on the current relay connection (RelayUnavailable if there is none)."""

    async def control(self, message: Json) -> Json:
        """Send a control message and wait for the relay's "ok" (RelayRefused on an error)."""


@dataclass(eq=False)
class RecorderSession:
    sid: str
    account: str
    channel: SealedChannel
    device_static: bytes
    reassembler: Reassembler
    invitation: str | None = None
    device: Device | None = None
    login: TunnelLogin | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    calls: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CALLS_IN_FLIGHT))
    notices: int = 0
    last_seen: float = 0.0  # monotonic time of the last message from the device


class SessionBroker:
    def __init__(
        self,
        identity: RecorderIdentity,
        ctx: ApiContext,
        api: InProcessApi,
        invitations: InvitationStore,
        devices: DeviceStore,
    ) -> None:
        self._identity = identity
        self._ctx = ctx
        self._api = api
        self._invitations = invitations
        self._devices = devices
        self._relay: RelaySender | None = None
        self.sessions: dict[str, RecorderSession] = {}
        self.refused = 0  # sealed messages refused (forged, tampered, replayed)
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, relay: RelaySender) -> None:
        self._relay = relay

    @property
    def relay(self) -> RelaySender:
        assert self._relay is not None, "attach() the tunnel client first"
        return self._relay

    # -- relay messages ----------------------------------------------------------------------

    async def handle(self, message: Json) -> None:
        kind, sid = message.get("t"), message.get("sid")
        try:
            if kind == "open":
                await self._open(message)
            elif kind == "data" and isinstance(sid, str):
                await self._data(sid, message)
            elif kind == "close" and isinstance(sid, str):
                await self.end(sid, reason=None)
            elif kind == "error":
                log.warning("relay error %s: %s", message.get("code"), message.get("reason"))
                if isinstance(sid, str):
                    await self.end(sid, reason=None)
        except TunnelError as exc:
            log.warning("tunnel session %s: %s", sid, exc)
            if isinstance(sid, str):
                await self.end(sid, reason="error")

    async def _open(self, message: Json) -> None:
        sid, account, inv = message.get("sid"), message.get("acct"), message.get("inv")
        if not isinstance(sid, str) or not isinstance(account, str) or sid in self.sessions:
            return
        if len(self.sessions) >= MAX_SESSIONS:
            log.warning("tunnel session %s refused: %d sessions open", sid, len(self.sessions))
            await self._refuse(sid, "busy")
            return
        try:
            hello = unb64url(str(message.get("hs")))
            accepted = respond(
                self._identity.static_private, prologue(self._identity.rid, sid), hello
            )
        except (ValueError, HandshakeFailed) as exc:
            log.warning("tunnel session %s refused: handshake: %s", sid, exc)
            await self._refuse(sid, "handshake_failed")
            return
        session = RecorderSession(
            sid, account, accepted.channel, accepted.device_static,
            Reassembler(max_message_bytes=ENROLL_BYTES if inv is not None else self._api.max_body),
            invitation=str(inv) if inv is not None else None,
        )  # fmt: skip
        if session.invitation is None:
            device = await self._devices.by_key(accepted.device_static)
            if device is None or not device.live or device.account != account:
                log.warning("tunnel session %s refused: unknown or revoked device key", sid)
                await self._refuse(sid, "unknown_device")
                if not await self._devices.account_has_live_device(account):
                    self._background(self._revoke_account(account))
                return
            if not await self._user_enabled(device):
                await self._refuse(sid, "revoked")
                return
            await self._bind(session, device)
        session.last_seen = self._ctx.clock.monotonic()
        self.sessions[sid] = session
        await self.relay.send({"t": "accept", "sid": sid, "hs": b64url(accepted.reply)})

    async def _bind(self, session: RecorderSession, device: Device) -> None:
        session.device = device
        session.reassembler.max_message_bytes = self._api.max_body
        session.login = await self._api.login(device.user_id, f"tunnel device {device.id}")
        await self._devices.touch(device.id)

    async def _refuse(self, sid: str, reason: str) -> None:
        with contextlib.suppress(TunnelError):
            await self.relay.send({"t": "close", "sid": sid, "reason": reason})

    async def _data(self, sid: str, message: Json) -> None:
        session = self.sessions.get(sid)
        if session is None:
            return
        session.last_seen = self._ctx.clock.monotonic()
        try:
            plaintexts = session.channel.open(message.get("seq"), unb64url(str(message["ct"])))
        except (MessageRefused, ValueError, KeyError):
            self.refused += 1  # logged by the channel; never delivered
            return
        for plaintext in plaintexts:
            try:
                whole = session.reassembler.feed(plaintext)
            except FramingError as exc:
                # A broken or hostile client: say why, then end the session.
                await self._send(session, _error("framing", str(exc)))
                await self.end(session.sid, reason="error")
                return
            if whole is not None:
                await self._dispatch(session, whole)

    async def _dispatch(self, session: RecorderSession, message: Message) -> None:
        if message.kind == "enroll" and session.invitation and session.device is None:
            # A task: enrolling waits for the relay's acknowledgements, which the relay
            # reader (our caller) must stay free to read.
            self._spawn(session, self._enroll(session, message))
        elif session.device is None:
            await self._send(session, _error("enroll_first", "enrol with the invitation first"))
            await self.end(session.sid, reason="enroll_refused")
        elif message.kind == "req":
            self._spawn(session, self._call(session, message))
        elif message.kind == "sub" and session.notices == 0:
            session.notices = 1
            self._spawn(session, self._notices(session))

    def _background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(self, session: RecorderSession, work: Any) -> None:
        task = asyncio.create_task(work)
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def _enroll(self, session: RecorderSession, message: Message) -> None:
        inv = str(session.invitation)
        try:
            if message.header.get("inv") != inv:
                raise EnrollmentFailed("the invitation named is not this session's")
            proof = unb64url(str(message.header.get("proof")))
            invitation = await self._invitations.claim(
                inv, proof, session.device_static, session.account, session.sid
            )
            device = await self._devices.bind(
                session.device_static, invitation.user_id, session.account, inv
            )
        except (EnrollmentFailed, ValueError) as exc:
            log.warning("enrollment refused in session %s: %s", session.sid, exc)
            await self._send(session, _error("enroll_refused", str(exc)))
            await self.end(session.sid, reason="enroll_refused")
            return
        await self._invitations.note_device(inv, device.id)
        await self._bind(session, device)
        log.info("device %d enrolled for user %r", device.id, device.username)
        for control in ({"t": "invite_used", "inv": inv}, {"t": "grant", "acct": session.account}):
            try:
                await self.relay.control(control)
            except TunnelError as exc:
                log.warning("relay did not take %s: %s", control["t"], exc)
        body = {"device_id": device.id, "user": device.username, "rid": self._identity.rid}
        await self._send(session, Message({"k": "enrolled"}, json.dumps(body).encode()))

    async def _still_allowed(self, session: RecorderSession) -> bool:
        """The device is live and its user enabled; if not, the session ends now."""
        assert session.device is not None
        try:
            device = await self._devices.get(session.device.id)
        except NotFound:
            device = None
        if device is None or not device.live or not await self._user_enabled(device):
            await self.end(session.sid, reason="revoked")
            if device is None and not await self._devices.account_has_live_device(session.account):
                await self._revoke_account(session.account)  # its user was deleted
            return False
        return True

    def watch(self, signal: Any) -> None:
        """Listen to the recorder's access-change signal (`recorder.accounts.revocation`, where
        present): a session whose user or login changed is re-checked at once, not at its next
        call or notice."""

        def changed(change: Any) -> None:
            for session in list(self.sessions.values()):
                if session.device is None or session.login is None:
                    continue
                if change.concerns(session.device.user_id, session.login.session_id):
                    self._spawn(session, self._recheck(session))

        signal.subscribe(changed)

    async def _recheck(self, session: RecorderSession) -> None:
        if not await self._still_allowed(session):
            return
        assert session.login is not None
        try:
            await authenticate(self._ctx, session.login.access_token)
        except RequestError:
            await self.end(session.sid, reason="revoked")  # its login session was ended

    async def _user_enabled(self, device: Device) -> bool:
        try:
            return not (await self._ctx.accounts.get(device.user_id)).disabled
        except NotFound:
            return False

    async def _call(self, session: RecorderSession, message: Message) -> None:
        call_id = message.header.get("id")
        async with session.calls:
            if not await self._still_allowed(session):
                return
            assert session.login is not None
            try:
                answer = await self._api.call(session.login, message.header, message.body)
            except FramingError as exc:
                await self._send(session, _error("bad_request", str(exc), call_id))
                return
            header = {"k": "res", "id": call_id, "status": answer.status, "headers": answer.headers}
            await self._send(session, Message(header, answer.body))
            if answer.status == 401:
                # The tunnel's login session was ended on the recorder (logout everywhere, a
                # password reset): this session ends too; the device may open a new one.
                await self.end(session.sid, reason="revoked")

    async def _notices(self, session: RecorderSession) -> None:
        assert session.login is not None
        try:
            principal = await authenticate(self._ctx, session.login.access_token)
        except RequestError as exc:
            await self._send(session, _error("not_authenticated", str(exc)))
            return
        subscriber = self._ctx.hub.subscribe(principal)
        try:
            while True:
                notice, allowed = await subscriber.queue.get()
                if not await self._still_allowed(session):
                    return
                # The hub filtered with the rights of publish time; they may have narrowed since:
                # the publisher's own rule is asked again with the rights of now.
                try:
                    now = await authenticate(self._ctx, session.login.access_token)
                except RequestError:
                    await self.end(session.sid, reason="revoked")
                    return
                if not allowed(now):
                    continue
                session.notices += 1
                header = {"k": "notice", "id": f"n{session.notices}"}
                await self._send(session, Message(header, json.dumps(notice).encode()))
        finally:
            self._ctx.hub.unsubscribe(subscriber)

    async def _send(self, session: RecorderSession, message: Message) -> None:
        async with session.lock:
            for frame in split(message):
                seq, ct = session.channel.seal(frame)
                with contextlib.suppress(TunnelError):
                    await self.relay.send(
                        {"t": "data", "sid": session.sid, "seq": seq, "ct": b64url(ct)}
                    )

    # -- ending ------------------------------------------------------------------------------

    async def end(self, sid: str, *, reason: str | None) -> None:
        """Forget a session; tell the relay when we end it (reason), not when it did."""
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        current = asyncio.current_task()
        for task in list(session.tasks):
            if task is not current:
                task.cancel()
        if session.login is not None:
            await self._api.logout(session.login)
        if reason is not None:
            await self._refuse(sid, reason)

    async def end_idle(self, idle_s: float) -> None:
        """End sessions the device has not used for `idle_s`: a session whose close never
        arrived (a relay restart, a device gone) does not hold its login session forever."""
        now = self._ctx.clock.monotonic()
        for session in list(self.sessions.values()):
            if now - session.last_seen >= idle_s and not session.notices:
                await self.end(session.sid, reason="idle")

    async def end_all(self) -> None:
        for sid in list(self.sessions):
            await self.end(sid, reason="shutdown")

    def device_of_login(self, login_session_id: str) -> int | None:
        """The enrolled device whose tunnel session calls with this login session, if any."""
        for session in self.sessions.values():
            if session.login is not None and session.login.session_id == login_session_id:
                return None if session.device is None else session.device.id
        return None

    async def revoke_device(self, device_id: int) -> Device:
        device = await self._devices.revoke(device_id)
        push = getattr(self._ctx, "push", None)
        if push is not None:  # its push subscriptions end with it
            await push.store.forget_device(device_id)
        for session in list(self.sessions.values()):
            if session.device is not None and session.device.id == device_id:
                await self.end(session.sid, reason="revoked")
        if not await self._devices.account_has_live_device(device.account):
            await self._revoke_account(device.account)
        return device

    async def revoke_user(self, user_id: int) -> list[Device]:
        return [await self.revoke_device(d.id) for d in await self._devices.of_user(user_id)]

    async def _revoke_account(self, account: str) -> None:
        try:
            await self.relay.control({"t": "revoke", "acct": account})
        except TunnelError as exc:
            log.warning("could not tell the relay to revoke an account: %s", exc)


def _error(code: str, reason: str, call_id: Any = None) -> Message:
    header: dict[str, Any] = {"k": "error", "code": code, "reason": reason}
    if call_id is not None:
        header["id"] = call_id
    return Message(header)
