"""Everything a request handler may use, gathered once by the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from recorder.accounts.audit import AuditLog
from recorder.accounts.camera_groups import CameraGroupStore
from recorder.accounts.revocation import AccessSignal
from recorder.accounts.store import AccountStore
from recorder.accounts.throttle import LoginThrottle
from recorder.accounts.tokens import TokenService
from recorder.api.realtime import RealtimeHub
from recorder.api.session_cache import SessionCache
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.capture.session import Keyframe
from recorder.clock import Clock
from recorder.config import CameraConfig, RecorderConfig
from recorder.errors import Unavailable
from recorder.integrations.store import IntegrationStore
from recorder.media.clips import ClipService
from recorder.media.live import LiveStream
from recorder.media.preview import PreviewCache
from recorder.motion.model import MAX_PAGE, EventQuery, MotionEvent
from recorder.motion.service import MotionService
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.device import OnvifDevice, ZeepOnvifDevice
from recorder.push.service import PushService
from recorder.storage.capacity import CapacityProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.state import StorageState

if TYPE_CHECKING:
    from recorder.remote.service import RemoteMediaService
    from recorder.tunnel.service import TunnelService


@dataclass
class ApiContext:
    config: RecorderConfig
    cameras: CameraRegistry
    opener: StreamOpener  # to test a camera's stream before saving it
    clock: Clock
    layout: SegmentLayout
    index: SegmentIndex
    health: HealthBoard
    storage: StorageState
    probe: CapacityProbe
    accounts: AccountStore
    tokens: TokenService
    throttle: LoginThrottle
    hook_throttle: LoginThrottle  # failed webhook signatures, per client address only
    audit: AuditLog
    hub: RealtimeHub
    latest_keyframe: Callable[[str], Keyframe | None]
    live: Callable[[str], LiveStream | None]
    clips: ClipService
    integrations: IntegrationStore  # devices that may post signed events (webhooks)
    motion: MotionService | None = None  # None: events are not available
    onvif_device: Callable[[OnvifEndpoint], OnvifDevice] = ZeepOnvifDevice
    # Sessions ended, users and rights changed: long-lived connections (/ws, the tunnel) listen.
    signal: AccessSignal = field(default_factory=AccessSignal)
    tunnel: TunnelService | None = None  # remote access (set once the app exists)
    groups: CameraGroupStore | None = None  # None: saved camera groups are not available
    push: PushService | None = None  # Web Push; None when [push] enabled = false
    remote: RemoteMediaService | None = None  # remote media through the relay (with a relay)
    previews: PreviewCache = field(default_factory=PreviewCache)  # timeline scrubbing
    sessions: SessionCache = field(init=False)  # what authentication read, for a moment

    def __post_init__(self) -> None:
        self.sessions = SessionCache(self.clock)
        self.signal.subscribe(self.sessions.forget)

    def camera(self, camera_id: str) -> CameraConfig:
        return self.cameras.get(camera_id)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def events(self) -> MotionService:
        if self.motion is None:
            raise Unavailable("motion detection is not running")
        return self.motion

    async def events_between(
        self, camera_ids: set[str] | None, start_ms: int, end_ms: int, limit: int
    ) -> list[MotionEvent]:
        """Events overlapping [start_ms, end_ms), newest first, at most `limit` (none without
        motion detection)."""
        if self.motion is None:
            return []
        found: list[MotionEvent] = []
        cursor = None
        ids = None if camera_ids is None else frozenset(camera_ids)
        while len(found) < limit:
            page = await self.motion.events.query(
                EventQuery(
                    camera_ids=ids,
                    start_ms=start_ms,
                    end_ms=end_ms,
                    limit=min(MAX_PAGE, limit - len(found)),
                    cursor=cursor,
                )
            )
            found += page.events
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return found
