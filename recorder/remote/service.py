"""`RemoteMediaService`: remote media assembled (media secret, uploader, relay rights, the
session manager, the thumbnail publisher) from the tunnel it rides on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from recorder.accounts.model import Principal, Right
from recorder.accounts.revocation import AccessChange
from recorder.api.security import authenticate
from recorder.clock import Clock
from recorder.errors import RequestError
from recorder.motion.service import MotionService
from recorder.remote.sealing import MediaSecret
from recorder.remote.sessions import LEASE_S, MediaSession, RemoteMedia
from recorder.remote.thumbnails import ThumbnailPublisher
from recorder.remote.uploads import FormUploader, ObjectUploader, RelayRights

if TYPE_CHECKING:
    from recorder.api.context import ApiContext
    from recorder.tunnel.broker import RecorderSession
    from recorder.tunnel.service import TunnelService

MEDIA_SECRET = "media.key"


class RemoteMediaService:
    def __init__(
        self,
        tunnel: TunnelService,
        secrets_dir: Path,
        clock: Clock,
        motion: MotionService | None,
        uploader: ObjectUploader | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        self._tunnel = tunnel
        self.secret = MediaSecret.load_or_create(secrets_dir / MEDIA_SECRET)
        self._own_uploader = uploader is None
        self.uploader: ObjectUploader = uploader or FormUploader()
        relay = RelayRights(tunnel.broker.relay)
        rid = tunnel.identity.rid
        self.sessions = RemoteMedia(
            rid,
            relay,
            self.uploader,
            clock,
            tunnel_alive=lambda sid: sid in tunnel.broker.sessions,
            lease_s=lease_s,
        )
        self._checks: set[asyncio.Task[None]] = set()
        self.thumbnails: ThumbnailPublisher | None = None
        if motion is not None:
            self.thumbnails = ThumbnailPublisher(
                rid, self.secret, relay, self.uploader, motion, clock, self.connected
            )
            motion.bus.add_listener(self.thumbnails.on_notice)

    def watch(self, ctx: ApiContext) -> None:
        """Re-check a media session's user at once when the recorder's access signal says its
        rights, user or login changed (a withdrawn right ends the session now, not at its next
        lease renewal)."""

        def changed(change: AccessChange) -> None:
            for session in list(self.sessions.sessions.values()):
                owner = self._tunnel.broker.sessions.get(session.owner)
                login = owner.login if owner is not None else None
                if login is None or change.concerns(session.user_id, login.session_id):
                    task = asyncio.create_task(self._recheck(ctx, session))
                    self._checks.add(task)
                    task.add_done_callback(self._checks.discard)

        ctx.signal.subscribe(changed)

    async def _recheck(self, ctx: ApiContext, session: MediaSession) -> None:
        owner = self._tunnel.broker.sessions.get(session.owner)
        allowed = False
        if owner is not None and owner.login is not None:
            try:
                principal = await authenticate(ctx, owner.login.access_token)
            except RequestError:
                principal = None
            allowed = principal is not None and principal.can(
                session.camera_id, Right(session.right)
            )
        if not allowed:
            await self.sessions.stop(session.msid, session.owner, reason="access withdrawn")

    def connected(self) -> bool:
        client = self._tunnel.client
        return client is not None and client.status.connected

    def tunnel_session_of(self, principal: Principal) -> RecorderSession | None:
        """The tunnel session a call came through: the one whose login session it uses (a
        LAN caller has none, whatever it sends)."""
        for session in self._tunnel.broker.sessions.values():
            if session.login is not None and session.login.session_id == principal.session:
                return session
        return None

    async def close(self) -> None:
        await self.sessions.close()
        if self._own_uploader and isinstance(self.uploader, FormUploader):
            await self.uploader.close()
