"""Invitations, the root of trust: a one-time secret that lets a device enrol as a recorder user.

The link carries, in its URL fragment only (never sent to any server), the recorder id, the
recorder's X25519 public key, the invitation id and the secret. The relay learns the id (so it
lets the invitee open a session) but never the secret. The device proves the secret inside the
sealed channel with `enrollment_proof`, which binds it to the device's static key (already
authenticated by the handshake), the cloud account the relay vouches for, and the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from recorder.clock import Clock
from recorder.errors import Conflict, InvalidRequest, NotFound
from recorder.site_db import SiteDatabase
from recorder.tunnel.errors import EnrollmentFailed
from recorder.tunnel.identity import b64url, unb64url

PROOF_CONTEXT = b"skycam-enroll/1\x00"


def enrollment_proof(secret: bytes, device_static: bytes, account: str, sid: str) -> bytes:
    message = PROOF_CONTEXT + device_static + account.encode() + b"\x00" + sid.encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class InvitationLink:
    """What a device reads from an invitation link."""

    relay_url: str
    rid: str
    recorder_static: bytes
    invitation: str
    secret: bytes

    def url(self) -> str:
        fragment = urlencode(
            {
                "rid": self.rid,
                "rpk": b64url(self.recorder_static),
                "inv": self.invitation,
                "s": b64url(self.secret),
            }
        )
        return f"{self.relay_url.rstrip('/')}/#/join?{fragment}"

    @classmethod
    def parse(cls, link: str) -> InvitationLink:
        parts = urlsplit(link)
        route, _, query = parts.fragment.partition("?")
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            if route != "/join":
                raise ValueError("not a join link")
            return cls(
                relay_url=f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/"),
                rid=fields["rid"],
                recorder_static=unb64url(fields["rpk"]),
                invitation=fields["inv"],
                secret=unb64url(fields["s"]),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidRequest(f"not an invitation link: {exc}") from None


@dataclass(frozen=True)
class Invitation:
    id: str
    user_id: int
    username: str
    created_by: str
    created_ms: int
    expires_ms: int
    registered: bool
    used_ms: int | None
    revoked_ms: int | None

    def state(self, now_ms: int) -> str:
        if self.revoked_ms is not None:
            return "revoked"
        if self.used_ms is not None:
            return "used"
        return "expired" if self.expires_ms <= now_ms else "pending"


_COLUMNS = (
    "i.id, i.user_id, u.username, i.created_by, i.created_ms, i.expires_ms, "
    "i.registered_ms IS NOT NULL, i.used_ms, i.revoked_ms"
)


def _row(row: tuple[object, ...]) -> Invitation:
    (id_, user_id, username, by, created, expires, registered, used, revoked) = row
    return Invitation(
        str(id_), int(str(user_id)), str(username), str(by), int(str(created)),
        int(str(expires)), bool(registered),
        None if used is None else int(str(used)),
        None if revoked is None else int(str(revoked)),
    )  # fmt: skip


class InvitationStore:
    def __init__(self, db: SiteDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def create(self, user_id: int, created_by: str, ttl_s: float) -> tuple[Invitation, bytes]:
        """A new invitation and its secret (returned once, to be put in the link)."""
        invitation_id = b64url(secrets.token_bytes(16))
        secret = secrets.token_bytes(32)
        now = self._now_ms()
        await self._db.conn.execute(
            "INSERT INTO tunnel_invitations (id, secret, user_id, created_by, created_ms, "
            "expires_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (invitation_id, b64url(secret), user_id, created_by, now, now + int(ttl_s * 1000)),
        )
        return await self.get(invitation_id), secret

    async def get(self, invitation_id: str) -> Invitation:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM tunnel_invitations i JOIN users u ON u.id = i.user_id "
            "WHERE i.id = ?",
            (invitation_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no invitation {invitation_id!r}")
        return _row(tuple(row))

    async def all(self) -> list[Invitation]:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM tunnel_invitations i JOIN users u ON u.id = i.user_id "
            "ORDER BY i.created_ms DESC"
        ) as cursor:
            rows = await cursor.fetchall()
        return [_row(tuple(row)) for row in rows]

    async def unregistered(self) -> list[Invitation]:
        """Pending invitations the relay has not been told about yet."""
        return [
            i for i in await self.all() if not i.registered and i.state(self._now_ms()) == "pending"
        ]

    async def mark_registered(self, invitation_id: str) -> None:
        await self._db.conn.execute(
            "UPDATE tunnel_invitations SET registered_ms = ? WHERE id = ?",
            (self._now_ms(), invitation_id),
        )

    async def revoke(self, invitation_id: str) -> Invitation:
        invitation = await self.get(invitation_id)
        if invitation.used_ms is not None:
            raise Conflict("this invitation was already used: revoke the device instead")
        await self._db.conn.execute(
            "UPDATE tunnel_invitations SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (self._now_ms(), invitation_id),
        )
        return await self.get(invitation_id)

    async def claim(
        self, invitation_id: str, proof: bytes, device_static: bytes, account: str, sid: str
    ) -> Invitation:
        """Check the proof and use the invitation up (once); EnrollmentFailed otherwise."""
        async with self._db.conn.execute(
            "SELECT secret FROM tunnel_invitations WHERE id = ?", (invitation_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise EnrollmentFailed("unknown invitation")
        expected = enrollment_proof(unb64url(str(row[0])), device_static, account, sid)
        if not hmac.compare_digest(expected, proof):
            raise EnrollmentFailed("the invitation secret was not proven")
        cursor = await self._db.conn.execute(
            "UPDATE tunnel_invitations SET used_ms = ? WHERE id = ? AND used_ms IS NULL "
            "AND revoked_ms IS NULL AND expires_ms > ?",
            (self._now_ms(), invitation_id, self._now_ms()),
        )
        if cursor.rowcount != 1:
            state = (await self.get(invitation_id)).state(self._now_ms())
            raise EnrollmentFailed(f"the invitation is {state}")
        return await self.get(invitation_id)

    async def note_device(self, invitation_id: str, device_id: int) -> None:
        await self._db.conn.execute(
            "UPDATE tunnel_invitations SET device_id = ? WHERE id = ?", (device_id, invitation_id)
        )
