"""`RemoteMediaService`: remote media assembled (media secret, uploader, relay rights, the
session manager, the thumbnail publisher) from the tunnel it rides on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from recorder.accounts.model import Principal
from recorder.clock import Clock
from recorder.motion.service import MotionService
from recorder.remote.sealing import MediaSecret
from recorder.remote.sessions import LEASE_S, MediaSession, RemoteMedia
from recorder.remote.thumbnails import ThumbnailPublisher
from recorder.remote.uploads import FormUploader, ObjectUploader, RelayRights

if TYPE_CHECKING:
    from recorder.tunnel.broker import RecorderSession
    from recorder.tunnel.dispatch import TunnelLogin
    from recorder.tunnel.service import TunnelService


class RemoteMediaService:
    def __init__(
        self,
        tunnel: TunnelService,
        secret_path: Path,
        clock: Clock,
        motion: MotionService | None,
        uploader: ObjectUploader | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        self._tunnel = tunnel
        self.secret = MediaSecret.load_or_create(secret_path)
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
        self.thumbnails: ThumbnailPublisher | None = None
        self._tasks: set[asyncio.Task[int]] = set()
        if motion is not None:
            self.thumbnails = ThumbnailPublisher(
                rid, self.secret, relay, self.uploader, motion, clock, self.connected
            )
            motion.bus.add_listener(self.thumbnails.on_notice)

    def relay_connected(self) -> None:
        """The tunnel is (back) up (the tunnel service calls this on every connect): event
        thumbnails the link missed are uploaded, beside whatever else starts now."""
        if self.thumbnails is not None:
            task = asyncio.create_task(self.thumbnails.catch_up(), name="thumbnails-catch-up")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def owner_login(self, session: MediaSession) -> TunnelLogin | None:
        """The login of the tunnel session a media session was asked from (None once ended)."""
        owner = self._tunnel.broker.sessions.get(session.owner)
        return owner.login if owner is not None else None

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
        for task in list(self._tasks):
            task.cancel()
        await self.sessions.close()
        if self._own_uploader and isinstance(self.uploader, FormUploader):
            await self.uploader.close()
