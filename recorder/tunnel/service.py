"""The tunnel, assembled: identity, stores, broker and (with `[relay] url`) the relay client.

Also what the LAN API and `skycam invite` use: the status, invitations and devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from recorder.api.context import ApiContext
from recorder.clock import Clock, pause
from recorder.config import RelayConfig
from recorder.errors import Conflict
from recorder.site_db import SiteDatabase
from recorder.tunnel.broker import SessionBroker
from recorder.tunnel.client import RelayStatus, TunnelClient
from recorder.tunnel.devices import Device, DeviceStore
from recorder.tunnel.dispatch import InProcessApi
from recorder.tunnel.errors import RelayUnavailable, TunnelError
from recorder.tunnel.identity import RecorderIdentity, b64url
from recorder.tunnel.invitations import Invitation, InvitationLink, InvitationStore
from recorder.tunnel.links import Json, RecorderDialer, WebSocketDialer

log = logging.getLogger(__name__)


class _Offline:
    """The broker's relay when none is configured: nothing can be sent."""

    async def send(self, message: Json) -> None:
        raise RelayUnavailable("no relay configured")

    async def control(self, message: Json) -> Json:
        raise RelayUnavailable("no relay configured")


def make_invitation_link(
    config: RelayConfig, identity: RecorderIdentity, invitation: Invitation, secret: bytes
) -> str:
    if not config.url:
        raise Conflict("no relay configured: set [relay] url to invite remote devices")
    return InvitationLink(
        config.url, identity.rid, identity.static_public, invitation.id, secret
    ).url()


class TunnelService:
    def __init__(
        self,
        config: RelayConfig,
        secrets_dir: Path,
        ctx: ApiContext,
        app: Any,
        site: SiteDatabase,
        dialer: RecorderDialer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._ctx = ctx
        self.identity = RecorderIdentity.load_or_create(secrets_dir)
        self.clock = clock or ctx.clock
        self.invitations = InvitationStore(site, ctx.clock)
        self.devices = DeviceStore(site, ctx.clock)
        self.api = InProcessApi(app, ctx.tokens, ctx.clock, int(config.max_call_bytes))
        self.broker = SessionBroker(self.identity, ctx, self.api, self.invitations, self.devices)
        signal = getattr(ctx, "signal", None)  # the access-change signal, once it exists
        if signal is not None:
            self.broker.watch(signal)
        self.client: TunnelClient | None = None
        if config.url:
            self.client = TunnelClient(
                dialer or WebSocketDialer(config.url, config.ws_url, config.connect_timeout_s),
                self.identity,
                config,
                self.clock,
                self.broker.handle,
                on_connected=self._connected,
            )
            self.broker.attach(self.client)
        else:
            self.broker.attach(_Offline())

    def status(self) -> dict[str, Any]:
        status = self.client.status if self.client else RelayStatus(False, self.identity.rid)
        return {
            **asdict(status),
            "url": self.config.url,
            "recorder_key": b64url(self.identity.static_public),
            "signing_key": b64url(self.identity.signing_public),
            "sessions": len(self.broker.sessions),
        }

    async def run(self, shutdown: asyncio.Event) -> None:
        if self.client is None:
            return
        syncer = asyncio.create_task(self._sync_now_and_then(shutdown))
        try:
            await self.client.run(shutdown)
        finally:
            syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncer
            await self.broker.end_all()

    async def _sync_now_and_then(self, shutdown: asyncio.Event) -> None:
        """Invitations made by `skycam invite` (another process) reach the relay this way;
        sessions left idle are ended."""
        while not shutdown.is_set():
            await pause(self.clock, self.config.invitation_sync_s, shutdown)
            if self.client is not None and self.client.status.connected:
                await self.sync()
            await self.broker.end_idle(self.config.session_idle_s)

    async def _connected(self) -> None:
        push = getattr(self._ctx, "push", None)
        if push is not None:
            push.relay_connected()  # notifications that waited for the link go now
        remote = getattr(self._ctx, "remote", None)
        if remote is not None:
            remote.relay_connected()  # and the event thumbnails they name
        await self.sync()

    def device_of_login(self, login_session_id: str) -> int | None:
        return self.broker.device_of_login(login_session_id)

    async def sync(self) -> None:
        """Tell the relay what it may have missed: pending invitations, accounts to revoke.
        Both are idempotent on the relay."""
        try:
            for invitation in await self.invitations.unregistered():
                await self._register(invitation)
            for account in await self._accounts_without_devices():
                await self.broker.relay.control({"t": "revoke", "acct": account})
        except TunnelError as exc:
            log.warning("relay sync: %s", exc)

    async def _accounts_without_devices(self) -> set[str]:
        devices = await self.devices.all()
        live = {d.account for d in devices if d.live}
        return {d.account for d in devices if not d.live} - live

    async def _register(self, invitation: Invitation) -> None:
        await self.broker.relay.control(
            {"t": "invite", "inv": invitation.id, "exp": invitation.expires_ms // 1000}
        )
        await self.invitations.mark_registered(invitation.id)

    async def create_invitation(self, user_id: int, created_by: str) -> tuple[Invitation, str]:
        """A new invitation and its link (shown once); registered with the relay if connected."""
        if not self.config.url:
            raise Conflict("no relay configured: set [relay] url to invite remote devices")
        invitation, secret = await self.invitations.create(
            user_id, created_by, self.config.invitation_ttl_s
        )
        link = make_invitation_link(self.config, self.identity, invitation, secret)
        if self.client is not None and self.client.status.connected:
            try:
                await self._register(invitation)
            except TunnelError as exc:
                log.warning("invitation kept for the next sync: %s", exc)
        return await self.invitations.get(invitation.id), link

    async def revoke_invitation(self, invitation_id: str) -> Invitation:
        return await self.invitations.revoke(invitation_id)

    async def revoke_device(self, device_id: int) -> Device:
        device = await self.devices.get(device_id)
        if not device.live:
            raise Conflict(f"device {device_id} is already revoked")
        return await self.broker.revoke_device(device_id)

    async def close(self) -> None:
        await self.broker.end_all()
        await self.api.close()
