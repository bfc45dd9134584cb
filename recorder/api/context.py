"""Everything a request handler may use, gathered once by the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recorder.accounts.audit import AuditLog
from recorder.accounts.store import AccountStore
from recorder.accounts.throttle import LoginThrottle
from recorder.accounts.tokens import TokenService
from recorder.api.realtime import RealtimeHub
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.capture.session import Keyframe
from recorder.clock import Clock
from recorder.config import CameraConfig, RecorderConfig
from recorder.media.clips import ClipService
from recorder.media.live import LiveStream
from recorder.storage.capacity import CapacityProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.state import StorageState


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
    audit: AuditLog
    hub: RealtimeHub
    latest_keyframe: Callable[[str], Keyframe | None]
    live: Callable[[str], LiveStream | None]
    clips: ClipService

    def camera(self, camera_id: str) -> CameraConfig:
        return self.cameras.get(camera_id)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)
