"""Builds the API's context and server from the recorder's parts (called by the service)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from recorder.accounts.audit import AuditLog
from recorder.accounts.bootstrap import FIRST_ADMIN, ensure_first_admin
from recorder.accounts.camera_groups import CameraGroupStore
from recorder.accounts.revocation import AccessSignal
from recorder.accounts.secrets import load_or_create_secret, write_secret_file
from recorder.accounts.store import AccountStore
from recorder.accounts.throttle import LoginThrottle, webhook_throttle
from recorder.accounts.tokens import TokenService
from recorder.api.app import create_app
from recorder.api.context import ApiContext
from recorder.api.realtime import RealtimeHub
from recorder.api.routes.remote import watch_access
from recorder.api.server import ApiServer
from recorder.api.storage_audit import StorageAudit
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.capture.session import Keyframe
from recorder.clock import Clock
from recorder.config import RecorderConfig
from recorder.integrations.store import IntegrationStore
from recorder.media.clips import ClipService
from recorder.media.live import LiveStream
from recorder.motion.service import MotionService
from recorder.push.sender import DirectSender
from recorder.push.service import PushService
from recorder.push.store import PushStore
from recorder.push.vapid import VapidKey
from recorder.remote.service import RemoteMediaService
from recorder.site import (
    API_SIGNING_KEY,
    FIRST_ADMIN_PASSWORD,
    MEDIA_KEY,
    RELAY_PUSH_KEY,
    VAPID_KEY,
    Site,
)
from recorder.site_db import SiteDatabase
from recorder.storage.capacity import CapacityProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.state import StorageState
from recorder.tunnel.links import RecorderDialer
from recorder.tunnel.service import TunnelService

log = logging.getLogger(__name__)


@dataclass
class ApiParts:
    context: ApiContext
    server: ApiServer
    site: SiteDatabase
    first_password: str | None  # set when this start created the first admin
    tunnel: TunnelService
    storage_audit: StorageAudit | None = None

    async def close(self) -> None:
        if self.context.remote is not None:
            await self.context.remote.close()
        await self.tunnel.close()
        await self.context.clips.close()
        if self.storage_audit is not None:
            await self.storage_audit.drain()

    async def run_push(self, stop: asyncio.Event) -> None:
        """Web Push's dispatcher and outbox until `stop` (returns at once when disabled)."""
        if self.context.push is not None:
            await self.context.push.run(stop)


async def assemble_api(
    config: RecorderConfig,
    *,
    site: SiteDatabase,
    cameras: CameraRegistry,
    opener: StreamOpener,
    clock: Clock,
    layout: SegmentLayout,
    index: SegmentIndex,
    health: HealthBoard,
    storage: StorageState,
    probe: CapacityProbe,
    latest_keyframe: Callable[[str], Keyframe | None],
    live: Callable[[str], LiveStream | None] = lambda _camera: None,
    motion: MotionService | None = None,
    relay_dialer: RecorderDialer | None = None,
) -> ApiParts:
    files = Site(config.data_dir)
    signal = AccessSignal()
    accounts = AccountStore(site, clock, signal)
    password = await ensure_first_admin(accounts)
    if password:
        # A secret never goes to a log line (logs are shipped and kept): it goes to a 0600 file
        # for the owner to read. `skycam user reset-password admin` makes a new one.
        password_file = files.secret(FIRST_ADMIN_PASSWORD)
        write_secret_file(password_file, password)
        log.warning("first start: log in as %r, password in %s (0600)", FIRST_ADMIN, password_file)
    key = load_or_create_secret(files.secret(API_SIGNING_KEY))
    ctx = ApiContext(
        config=config,
        cameras=cameras,
        opener=opener,
        clock=clock,
        layout=layout,
        index=index,
        health=health,
        storage=storage,
        probe=probe,
        accounts=accounts,
        tokens=TokenService(
            site,
            clock,
            key,
            config.api.access_token_ttl_s,
            config.api.refresh_token_ttl_s,
            signal,
        ),
        throttle=LoginThrottle(clock),
        hook_throttle=webhook_throttle(clock),
        audit=AuditLog(site, clock),
        hub=RealtimeHub(),
        latest_keyframe=latest_keyframe,
        live=live,
        clips=ClipService(site, index, layout, clock, int(config.storage.clips_max_bytes)),
        integrations=IntegrationStore(site, clock),
        motion=motion,
        signal=signal,
        groups=CameraGroupStore(site, clock),
    )
    ctx.push = _push_service(config, site, accounts, cameras, clock, motion)
    if ctx.push is not None:
        signal.subscribe(ctx.push.on_access)
    resumed = await ctx.clips.resume()
    if resumed:
        log.info("resuming %d clip export(s) interrupted by the last stop", resumed)
    storage_audit = StorageAudit(ctx.audit)
    storage_audit.attach(storage)
    app = create_app(ctx)
    server = ApiServer(app, config.api, files.secrets)
    # The tunnel runs calls through this same app, in process (recorder/tunnel/dispatch.py).
    tunnel = TunnelService(config.relay, files.secrets, ctx, app, site, relay_dialer)
    ctx.tunnel = tunnel
    if ctx.push is not None and tunnel.client is not None:
        # With a relay, browsers subscribe with the relay's VAPID key and the relay delivers.
        ctx.push.use_relay(tunnel.client, files.secret(RELAY_PUSH_KEY))
    if config.relay.url:
        ctx.remote = RemoteMediaService(
            tunnel, files.secret(MEDIA_KEY), clock, motion, lease_s=config.relay.media_lease_s
        )
        watch_access(ctx, ctx.remote)
        if ctx.push is not None and ctx.remote.thumbnails is not None:
            ctx.push.use_remote_thumbnails(ctx.remote.thumbnails.reference)
    return ApiParts(ctx, server, site, password, tunnel, storage_audit)


def _push_service(
    config: RecorderConfig,
    site: SiteDatabase,
    accounts: AccountStore,
    cameras: CameraRegistry,
    clock: Clock,
    motion: MotionService | None,
) -> PushService | None:
    """Web Push, sent by the recorder itself (DirectSender); `use_relay` adds the relay."""
    settings = config.push
    if not settings.enabled:
        return None
    vapid = VapidKey.load_or_create(Site(config.data_dir).secret(VAPID_KEY), settings.subject)
    push = PushService(
        settings,
        PushStore(site, clock),
        accounts,
        cameras,
        DirectSender(settings, vapid),
        clock,
        public_key=vapid.public_key,
    )
    if motion is not None:
        motion.bus.add_listener(push.on_notice)
    return push
