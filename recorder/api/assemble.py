"""Builds the API's context and server from the recorder's parts (called by the service)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recorder.accounts.audit import AuditLog
from recorder.accounts.bootstrap import FIRST_ADMIN, ensure_first_admin
from recorder.accounts.db import SiteDatabase
from recorder.accounts.secrets import load_or_create_secret
from recorder.accounts.store import AccountStore
from recorder.accounts.throttle import LoginThrottle
from recorder.accounts.tokens import TokenService
from recorder.api.app import create_app
from recorder.api.context import ApiContext
from recorder.api.realtime import RealtimeHub
from recorder.api.server import ApiServer
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.capture.session import Keyframe
from recorder.clock import Clock
from recorder.config import RecorderConfig
from recorder.media.clips import ClipService
from recorder.media.live import LiveStream
from recorder.motion.service import MotionService
from recorder.storage.capacity import CapacityProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.state import StorageState
from recorder.tunnel.links import RecorderDialer
from recorder.tunnel.service import TunnelService

log = logging.getLogger(__name__)

SITE_DB = "site.sqlite3"
SECRETS = "secrets"


@dataclass
class ApiParts:
    context: ApiContext
    server: ApiServer
    site: SiteDatabase
    first_password: str | None  # set when this start created the first admin
    tunnel: TunnelService

    async def close(self) -> None:
        await self.tunnel.close()
        await self.context.clips.close()


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
    data_dir: Path = config.data_dir
    accounts = AccountStore(site, clock)
    password = await ensure_first_admin(accounts)
    if password:
        # Shown once; `skycam user reset-password admin` makes a new one.
        log.warning("first start: log in as %r with password %r", FIRST_ADMIN, password)
    key = load_or_create_secret(data_dir / SECRETS / "api-signing.key")
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
            site, clock, key, config.api.access_token_ttl_s, config.api.refresh_token_ttl_s
        ),
        throttle=LoginThrottle(clock),
        audit=AuditLog(site, clock),
        hub=RealtimeHub(),
        latest_keyframe=latest_keyframe,
        live=live,
        clips=ClipService(site, index, layout, clock, int(config.storage.clips_max_bytes)),
        motion=motion,
    )
    resumed = await ctx.clips.resume()
    if resumed:
        log.info("resuming %d clip export(s) interrupted by the last stop", resumed)
    app = create_app(ctx)
    server = ApiServer(app, config.api, data_dir / SECRETS)
    # The tunnel runs calls through this same app, in process (recorder/tunnel/dispatch.py).
    tunnel = TunnelService(config.relay, data_dir / SECRETS, ctx, app, site, relay_dialer)
    ctx.tunnel = tunnel
    return ApiParts(ctx, server, site, password, tunnel)
