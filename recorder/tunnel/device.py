"""The Python reference device: what the PWA does remotely, for tests, benches and scripts.

A `DeviceClient` holds one relay connection (a `RelayLink`: the in-memory relay's, or a real
WebSocket opened with a one-time ticket after a cloud login) and opens sealed sessions to
recorders: `enroll` with an invitation link, `call` any /api/v1 endpoint, `subscribe` to
realtime notices. It speaks exactly the protocol of docs/ref/tunnel.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from nacl.public import PrivateKey

from recorder.tunnel.channel import Initiator, SealedChannel, prologue
from recorder.tunnel.errors import (
    EnrollmentFailed,
    HandshakeFailed,
    MessageRefused,
    RelayRefused,
    RelayUnavailable,
    TunnelError,
)
from recorder.tunnel.framing import Message, Reassembler, split
from recorder.tunnel.identity import b64url, unb64url
from recorder.tunnel.invitations import InvitationLink, enrollment_proof
from recorder.tunnel.links import Json, RelayLink, open_websocket, websocket_url


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[list[str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(eq=False)
class DeviceSession:
    client: DeviceClient
    sid: str
    rid: str
    account: str = ""
    channel: SealedChannel | None = None
    accepted: asyncio.Future[bytes] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    reassembler: Reassembler = field(default_factory=Reassembler)
    pending: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    notices: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: Message) -> None:
        assert self.channel is not None
        async with self._lock:
            for frame in split(message):
                seq, ct = self.channel.seal(frame)
                await self.client.link.send(
                    {"t": "data", "sid": self.sid, "seq": seq, "ct": b64url(ct)}
                )

    async def _ask(self, message: Message, key: str, timeout_s: float) -> Message:
        if self.closed.is_set():  # ended (revoked, closed by either end): no answer will come
            raise RelayRefused("closed", self.close_reason or "closed")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            await self.send(message)
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self.pending.pop(key, None)

    async def enroll(self, invitation: InvitationLink, timeout_s: float = 10) -> dict[str, Any]:
        proof = enrollment_proof(
            invitation.secret, self.client.static_public, self.account, self.sid
        )
        header = {"k": "enroll", "inv": invitation.invitation, "proof": b64url(proof)}
        answer = await self._ask(Message(header), "enroll", timeout_s)
        if answer.kind != "enrolled":
            raise EnrollmentFailed(str(answer.header.get("reason")))
        result: dict[str, Any] = json.loads(answer.body)
        return result

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        json_body: Any = None,
        body: bytes = b"",
        headers: list[list[str]] | None = None,
        timeout_s: float = 30,
    ) -> Response:
        call_id = f"c{next(self._ids)}"
        headers = list(headers or [])
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.append(["content-type", "application/json"])
        header = {
            "k": "req", "id": call_id, "method": method, "path": path, "query": query,
            "headers": headers,
        }  # fmt: skip
        answer = await self._ask(Message(header, body), call_id, timeout_s)
        if answer.kind != "res":
            raise TunnelError(f"call refused: {answer.header.get('reason')}")
        return Response(int(answer.header["status"]), answer.header["headers"], answer.body)

    async def subscribe(self) -> None:
        await self.send(Message({"k": "sub"}))

    def deliver(self, message: Json) -> None:
        if self.channel is None:
            return
        try:
            plaintexts = self.channel.open(message.get("seq"), unb64url(str(message.get("ct"))))
        except (MessageRefused, ValueError):
            return
        for plaintext in plaintexts:
            whole = self.reassembler.feed(plaintext)
            if whole is None:
                continue
            if whole.kind == "notice":
                self.notices.put_nowait(json.loads(whole.body))
                continue
            key = "enroll" if whole.kind in ("enrolled",) else str(whole.header.get("id"))
            if whole.kind == "error" and "id" not in whole.header:
                key = "enroll" if "enroll" in self.pending else key
            future = self.pending.get(key)
            if future is not None and not future.done():
                future.set_result(whole)

    def ended(self, reason: str) -> None:
        self.close_reason = reason
        self.closed.set()
        futures: list[asyncio.Future[Any]] = [*self.pending.values(), self.accepted]
        for future in futures:
            if not future.done():
                future.set_exception(RelayRefused("closed", reason))
                future.exception()  # whoever awaits it still gets it; nobody else is told

    async def close(self) -> None:
        with contextlib.suppress(TunnelError):
            await self.client.link.send({"t": "close", "sid": self.sid})
        self.client.sessions.pop(self.sid, None)
        self.ended("closed by the device")


class DeviceClient:
    def __init__(self, link: RelayLink, account: str, static_private: bytes | None = None) -> None:
        self.link = link
        self.account = account  # the cloud account id the relay knows this connection as
        self.static_private = static_private or bytes(PrivateKey.generate())
        self.sessions: dict[str, DeviceSession] = {}
        self._reader = asyncio.create_task(self._read())

    @property
    def static_public(self) -> bytes:
        return bytes(PrivateKey(self.static_private).public_key)

    async def open(
        self,
        rid: str,
        recorder_static: bytes,
        *,
        invitation: str | None = None,
        timeout_s: float = 10,
    ) -> DeviceSession:
        sid = b64url(secrets.token_bytes(16))
        initiator = Initiator(self.static_private, recorder_static, prologue(rid, sid))
        session = DeviceSession(self, sid, rid, self.account)
        self.sessions[sid] = session
        message: Json = {"t": "open", "sid": sid, "rid": rid, "hs": b64url(initiator.hello())}
        if invitation is not None:
            message["inv"] = invitation
        await self.link.send(message)
        try:
            reply = await asyncio.wait_for(session.accepted, timeout_s)
            session.channel = initiator.finish(reply)
        except (TimeoutError, HandshakeFailed, RelayRefused):
            self.sessions.pop(sid, None)
            raise
        return session

    async def enroll(
        self, link: str, timeout_s: float = 10
    ) -> tuple[DeviceSession, dict[str, Any]]:
        invitation = InvitationLink.parse(link)
        session = await self.open(
            invitation.rid, invitation.recorder_static, invitation=invitation.invitation,
            timeout_s=timeout_s,
        )  # fmt: skip
        return session, await session.enroll(invitation, timeout_s)

    async def _read(self) -> None:
        try:
            while True:
                message = await self.link.receive()
                session = self.sessions.get(str(message.get("sid")))
                if session is None:
                    continue
                kind = message.get("t")
                if kind == "accept" and not session.accepted.done():
                    try:
                        session.accepted.set_result(unb64url(str(message.get("hs"))))
                    except ValueError:
                        session.ended("bad accept")
                elif kind == "data":
                    session.deliver(message)
                elif kind == "close":
                    self.sessions.pop(session.sid, None)
                    session.ended(str(message.get("reason") or "closed"))
                elif kind == "error":
                    self.sessions.pop(session.sid, None)
                    session.ended(f"{message.get('code')}: {message.get('reason')}")
        except RelayUnavailable:
            for session in list(self.sessions.values()):
                session.ended("relay connection lost")
            self.sessions.clear()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.link.close()


async def cloud_signup(
    relay_url: str, email: str, password: str, invitation: str, *, timeout_s: float = 10
) -> None:
    """Create a cloud account with a recorder's invitation id (the relay knows it; sign-up is
    by invitation unless the relay allows open sign-up)."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            reply = await http.post(
                f"{relay_url.rstrip('/')}/v1/accounts",
                json={"email": email, "password": password, "invitation": invitation},
            )
    except httpx.HTTPError as exc:
        raise RelayUnavailable(f"cloud sign-up failed: {exc}") from exc
    if reply.status_code != 201:
        raise RelayRefused(str(reply.status_code), reply.text[:200])


async def cloud_login(
    relay_url: str, email: str, password: str, *, timeout_s: float = 10
) -> tuple[str, str]:
    """Log in to the relay's cloud account: (access token, account id). The token is what a
    device presents for tickets and media download links."""
    base = relay_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            login = await http.post(
                f"{base}/v1/auth/login", json={"email": email, "password": password}
            )
            if login.status_code != 200:
                raise RelayRefused(str(login.status_code), login.text[:200])
            tokens = login.json()
            return str(tokens["access_token"]), str(tokens["account"]["id"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise RelayUnavailable(f"cloud login failed: {exc}") from exc


async def cloud_ticket_link(
    relay_url: str, access_token: str, *, ws_url: str | None = None, timeout_s: float = 10
) -> RelayLink:
    """A one-time ticket for the access token, then the device WebSocket."""
    base = relay_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            bearer = {"Authorization": f"Bearer {access_token}"}
            ticket = await http.post(f"{base}/v1/tickets", headers=bearer)
            if ticket.status_code != 200:
                raise RelayRefused(str(ticket.status_code), ticket.text[:200])
            value = ticket.json()["ticket"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise RelayUnavailable(f"cloud ticket failed: {exc}") from exc
    return await open_websocket(
        f"{ws_url or websocket_url(base)}?role=device&ticket={value}", timeout_s
    )


async def cloud_link(
    relay_url: str, email: str, password: str, *, ws_url: str | None = None, timeout_s: float = 10
) -> tuple[RelayLink, str]:
    """Log in to the relay's cloud account, get a one-time ticket, open the device WebSocket.
    Returns the link and the account id."""
    token, account = await cloud_login(relay_url, email, password, timeout_s=timeout_s)
    link = await cloud_ticket_link(relay_url, token, ws_url=ws_url, timeout_s=timeout_s)
    return link, account
