"""A real recorder API in-process: segments recorded from a clip by the real capture code, real
SQLite index and site database, the real FastAPI app; time from a FakeClock."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from recorder.accounts.model import Right, Role
from recorder.api.assemble import ApiParts, assemble_api
from recorder.api.server import ApiServer
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import PyAVStream, PyAVStreamOpener
from recorder.capture.replay import ReplayOpener
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import FakeClock
from recorder.config import ApiConfig, RecorderConfig, parse_config
from recorder.errors import StreamError
from recorder.media.live import LivePacket, LiveStream
from recorder.motion.analysis import Box
from recorder.motion.model import EventSource, MotionEvent
from recorder.motion.service import MotionService
from recorder.motion.thumbnails import ThumbnailStore
from recorder.site_db import SiteDatabase
from recorder.storage.capacity import StatvfsProbe
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment, Segment
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState
from tests.conftest import ClipFactory
from tests.onvif.conftest import PROFILES
from tests.onvif.fake_device import FakeCamera, FakeOnvifDevice

THUMBNAIL = b"\xff\xd8\xff\xe0 a thumbnail \xff\xd9"
START = 1_700_000_000.0  # the FakeClock's start: 2023-11-14T22:13:20Z
CAMERAS = ("cam1", "cam2")


def record_clip(clip: Path, data_dir: Path, camera_id: str, clock: FakeClock) -> list[NewSegment]:
    segments: list[NewSegment] = []
    session = CaptureSession(
        camera_id,
        "replay://",
        ReplayOpener(clip, clock),
        SegmentLayout(data_dir),
        SessionSettings(segment_seconds=10),
        HealthBoard(),
        clock,
        segments.append,
    )
    with contextlib.suppress(StreamError):  # the end of the clip
        session.run()
    return segments


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory, make_clip: ClipFactory) -> Path:
    """A data dir with two runs of cam1 (35 s, a 60 s gap, 25 s) and one run of cam2."""
    data_dir = tmp_path_factory.mktemp("recordings")
    clock = FakeClock(START)
    found: list[NewSegment] = []
    found += record_clip(make_clip(seconds=35), data_dir, "cam1", clock)
    clock.advance(60)
    found += record_clip(make_clip(seconds=25), data_dir, "cam1", clock)
    found += record_clip(make_clip(seconds=25), data_dir, "cam2", FakeClock(START))

    async def index_all() -> None:
        async with SqliteSegmentIndex(data_dir / "index.sqlite3") as index:
            for camera in CAMERAS:
                await index.ensure_camera(camera)
            for segment in found:
                await index.add_segment(segment)

    asyncio.run(index_all())
    return data_dir


@dataclass
class Api:
    client: httpx.AsyncClient
    parts: ApiParts
    clock: FakeClock
    health: HealthBoard
    index: SqliteSegmentIndex
    config: RecorderConfig
    motion: MotionService
    onvif: FakeOnvifDevice  # every camera's ONVIF service
    events: list[MotionEvent]  # stored at start: cam1's (the newest has a thumbnail), cam2's

    @property
    def admin_password(self) -> str:
        assert self.parts.first_password
        return self.parts.first_password

    async def login(self, username: str = "admin", password: str | None = None) -> dict[str, str]:
        response = await self.client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": password or self.admin_password},
        )
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body

    async def headers(self, username: str = "admin", password: str | None = None) -> dict[str, str]:
        body = await self.login(username, password)
        return {"Authorization": f"Bearer {body['access_token']}"}

    async def segments(self, camera_id: str) -> list[Segment]:
        return await self.index.segments_between(camera_id, 0, 2**62)

    async def add_user(
        self, username: str, role: Role, rights: dict[str, set[Right]] | None = None
    ) -> dict[str, str]:
        accounts = self.parts.context.accounts
        user = await accounts.create(username, "pw-" + username + "-123", role)
        for camera, granted in (rights or {}).items():
            await accounts.set_rights(user.id, camera, frozenset(granted))
        return await self.headers(username, "pw-" + username + "-123")

    async def login_as_new(
        self, username: str, role: Role, rights: dict[str, set[Right]] | None = None
    ) -> dict[str, str]:
        """A new user with `rights`, logged in: the whole token response."""
        await self.add_user(username, role, rights)
        return await self.login(username, "pw-" + username + "-123")


@contextlib.asynccontextmanager
async def served(api: Api, tmp_path: Path, **api_config: object) -> AsyncIterator[int]:
    """The api's app on a real loopback socket (plain HTTP); yields the port."""
    config = ApiConfig(https=False, http_port=0, **api_config)  # type: ignore[arg-type]
    server = ApiServer(api.parts.server.app, config, tmp_path)
    shutdown = asyncio.Event()
    task = asyncio.create_task(server.run(shutdown))
    await asyncio.wait_for(server.ready.wait(), 10)
    assert server.http_port
    try:
        yield server.http_port
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 10)


class ClipOpener:
    """A StreamOpener for connection tests: URLs on host `good.test` or 127.0.0.2 play a clip,
    any other host is refused, as an unreachable camera would be. Notes every URL it is asked
    to open."""

    def __init__(self, clip: Path) -> None:
        self._clip = clip
        self.opened: list[str] = []

    def open(self, url: str) -> PyAVStream:
        self.opened.append(url)
        if urlsplit(url).hostname not in ("good.test", "127.0.0.2"):
            raise StreamError("cannot open stream: connection refused")
        return PyAVStreamOpener().open(str(self._clip))


def live_from_clip(clip: Path, clock: FakeClock) -> LiveStream:
    """A LiveStream fed with every packet of a clip, as a capture session would."""
    live = LiveStream("cam1", clock)
    stream = PyAVStreamOpener().open(str(clip))  # stays open: its streams are the templates
    live.start()
    for packet in stream.packets():
        is_video = packet.stream is stream.video
        live.feed(
            LivePacket(
                stream,
                is_video,
                bool(packet.is_keyframe),
                bytes(packet),
                packet.pts,
                packet.dts,
                packet.time_base,
                int(START * 1000 + float(packet.pts * packet.time_base) * 1000),
            )
        )
    return live


class WaitingClock:
    """The FakeClock's time, but sleeps really wait: background loops (motion's ticker) must
    not race the clock forward and expire every token."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def store_events(motion: MotionService, data_dir: Path) -> list[MotionEvent]:
    """Two finished events on cam1 (the second with a thumbnail), one on cam2."""
    t0 = round(START * 1000)
    stored = []
    for camera_id, start_ms, end_ms in (
        ("cam1", t0 + 2_000, t0 + 6_000),
        ("cam1", t0 + 20_000, t0 + 30_000),
        ("cam2", t0 + 5_000, t0 + 9_000),
    ):
        event = MotionEvent(
            id=0, camera_id=camera_id, source=EventSource.SOFTWARE, start_ms=start_ms,
            end_ms=end_ms, score=0.12, zones=("yard",), box=Box(0.1, 0.2, 0.3, 0.4),
            thumbnail=None, record_start_ms=start_ms - 5_000, record_end_ms=end_ms + 30_000,
            updated_ms=end_ms,
        )  # fmt: skip
        stored.append(await motion.events.insert(event))
    thumbnails = ThumbnailStore(data_dir)
    second = stored[1]
    relative = thumbnails.relative_path("cam1", second.id, second.start_ms)
    thumbnails.write(relative, THUMBNAIL)
    stored[1] = replace(second, thumbnail=relative)
    await motion.events.update(stored[1])
    return stored


@pytest.fixture
async def api(recordings: Path, tmp_path: Path, make_clip: ClipFactory) -> AsyncIterator[Api]:
    data_dir = tmp_path / "site"
    shutil.copytree(recordings, data_dir)
    onvif = FakeOnvifDevice(FakeCamera(profiles=PROFILES)).start()
    config = parse_config(
        {
            "data_dir": str(data_dir),
            "cameras": [
                {
                    "id": c,
                    "main_url": f"rtsp://192.0.2.1/{c}",  # never dialled: ClipOpener refuses it
                    "username": onvif.camera.user,
                    "password": onvif.camera.password,
                    "onvif": {"host": "127.0.0.1", "port": onvif.port},
                    "motion": {"source": "off"},  # events are stored by the test
                }
                for c in CAMERAS
            ],
            "onboarding": {"networks": ["127.0.0.0/8"], "multicast": False},
        }
    )
    clock = FakeClock(START + 3600)
    health = HealthBoard()
    health.update("cam1", state=CameraState.ONLINE, width=320, height=240)
    stop_motion = asyncio.Event()
    async with (
        SqliteSegmentIndex(data_dir / "index.sqlite3") as index,
        SiteDatabase(data_dir / "site.sqlite3") as site,
    ):
        cameras = CameraRegistry(config.cameras, site, clock)
        await cameras.load()
        motion = MotionService(config, index, WaitingClock(clock))
        motion_task = asyncio.create_task(motion.run(stop_motion, cameras.all()))
        await motion.ready.wait()
        events = await store_events(motion, data_dir)
        parts = await assemble_api(
            config,
            site=site,
            cameras=cameras,
            opener=ClipOpener(make_clip(seconds=3)),
            # The test's time, but waits really wait: the tunnel's and the live WebSocket's
            # loops sleep on it, and must not race the clock forward and expire every token.
            clock=WaitingClock(clock),
            layout=SegmentLayout(data_dir),
            index=index,
            health=health,
            storage=StorageState(),
            probe=StatvfsProbe(data_dir),
            latest_keyframe=lambda _camera: None,
            live={"cam1": live_from_clip(make_clip(seconds=12), clock)}.get,
            motion=motion,
        )
        transport = httpx.ASGITransport(app=parts.server.app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://recorder") as client:
                yield Api(client, parts, clock, health, index, config, motion, onvif, events)
        finally:
            await parts.close()
            stop_motion.set()
            await motion_task
            onvif.stop()
