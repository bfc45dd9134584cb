"""A real site database, real accounts and cameras, the real PushService and DirectSender,
delivering to a push service on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recorder.accounts.model import Right, Role, User
from recorder.accounts.store import AccountStore
from recorder.cameras.registry import CameraRegistry
from recorder.clock import FakeClock
from recorder.config import parse_config
from recorder.motion.model import EventSource, MotionEvent
from recorder.push.config import PushConfig
from recorder.push.sender import DirectSender
from recorder.push.service import PushService
from recorder.push.store import NewSubscription, PushStore, Subscription
from recorder.push.vapid import VapidKey
from recorder.site_db import SiteDatabase
from sim.push_service import Browser, LocalPushService

CAMERAS = [
    {"id": "front", "name": "Front door", "main_url": "rtsp://127.0.0.1:1/a"},
    {"id": "yard", "name": "Yard", "main_url": "rtsp://127.0.0.1:1/b"},
]


@dataclass
class Rig:
    push: PushService
    store: PushStore
    accounts: AccountStore
    clock: FakeClock
    service: LocalPushService
    vapid: VapidKey

    async def user(
        self, name: str, role: Role = Role.VIEWER, cameras: tuple[str, ...] = ()
    ) -> User:
        user = await self.accounts.create(name, "a long enough password 1", role)
        for camera in cameras:
            user = await self.accounts.set_rights(
                user.id, camera, frozenset({Right.LIVE, Right.PLAYBACK})
            )
        return user

    async def subscribe(
        self, user: User, name: str, **extra: object
    ) -> tuple[Subscription, Browser]:
        browser = Browser()
        keys = browser.keys()
        new = NewSubscription(self.service.endpoint(name), keys["p256dh"], keys["auth"], **extra)  # type: ignore[arg-type]
        return await self.store.subscribe(user.id, new), browser


_next_id = iter(range(1, 10**6))


def event(camera_id: str = "front", at_ms: int = 1_700_000_000_000, **extra: object) -> MotionEvent:
    fields: dict[str, object] = {
        "id": next(_next_id), "camera_id": camera_id, "source": EventSource.EXTERNAL,
        "start_ms": at_ms, "end_ms": None, "score": 0.0, "zones": (), "box": None,
        "thumbnail": None, "record_start_ms": at_ms - 5000, "record_end_ms": None,
        "updated_ms": at_ms, "kind": "doorbell",
    }  # fmt: skip
    fields.update(extra)
    return MotionEvent(**fields)  # type: ignore[arg-type]


@pytest.fixture
def push_service() -> Iterator[LocalPushService]:
    with LocalPushService() as service:
        yield service


async def make_rig(
    tmp_path: Path, service: LocalPushService, **settings: object
) -> AsyncIterator[Rig]:
    config = parse_config({"data_dir": str(tmp_path), "cameras": CAMERAS})
    push_config = PushConfig(allow_loopback=True, **settings)  # type: ignore[arg-type]
    clock = FakeClock()
    site = SiteDatabase(tmp_path / "site.sqlite3")
    await site.open()
    try:
        accounts = AccountStore(site, clock)
        cameras = CameraRegistry(config.cameras, site, clock)
        await cameras.load()
        vapid = VapidKey.load_or_create(tmp_path / "secrets" / "vapid.pem", push_config.subject)
        store = PushStore(site, clock)
        sender = DirectSender(push_config, vapid)
        push = PushService(push_config, store, accounts, cameras, sender, clock, vapid.public_key)
        yield Rig(push, store, accounts, clock, service, vapid)
        await sender.close()
    finally:
        await site.close()


@pytest.fixture
async def rig(tmp_path: Path, push_service: LocalPushService) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path, push_service, backoff_cap_s=0.2):
        yield made
