"""The recorder service: wires configuration, index, reconciliation, retention, cameras and API.

Start-up order matters: the index opens and reconciliation makes disk and index agree; the site
database opens and camera changes made through the API are applied over the config file;
retention makes room; then the cameras start and the API listens. On shutdown the workers close
their segments in flight and index them before the index closes. If any task dies unexpectedly,
everything stops the same orderly way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from recorder.accounts.db import SiteDatabase
from recorder.api.assemble import SITE_DB, ApiParts, assemble_api
from recorder.cameras.fleet import CameraFleet, default_opener
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.clock import Clock, SystemClock
from recorder.config import CameraConfig, RecorderConfig
from recorder.motion.service import MotionService, motion_only_retention
from recorder.storage.capacity import CapacityProbe, StatvfsProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from recorder.storage.reconcile import Reconciler
from recorder.storage.retention import RetentionPolicy, Watermarks
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState
from recorder.tunnel.links import RecorderDialer

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite3"


def retention_policy(config: RecorderConfig, cameras: list[CameraConfig]) -> RetentionPolicy:
    storage = config.storage
    return RetentionPolicy(
        retention_days={cam.id: config.retention_days_for(cam) for cam in cameras},
        default_retention_days=storage.retention_days,
        quota_bytes=int(storage.max_bytes) if storage.max_bytes else None,
        marks=Watermarks(
            high_percent=storage.high_water_percent,
            low_percent=storage.low_water_percent,
            min_free_bytes=int(storage.min_free_bytes or 0),
        ),
        motion_only=motion_only_retention(config.events, cameras),
    )


@dataclass
class Recorder:
    """One site's recorder. Adapters are injectable for tests; defaults are the real ones."""

    config: RecorderConfig
    clock: Clock = field(default_factory=SystemClock)
    opener: StreamOpener | None = None
    probe: CapacityProbe | None = None
    health: HealthBoard = field(default_factory=HealthBoard)
    storage: StorageState = field(default_factory=StorageState)
    index: SegmentIndex | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    api: ApiParts | None = None
    cameras: CameraRegistry | None = None
    fleet: CameraFleet | None = None
    motion: MotionService | None = None
    relay_dialer: RecorderDialer | None = None  # None: the real relay at [relay] url
    _in_flight: dict[str, int] = field(default_factory=dict)  # camera -> bytes being written

    async def run(self, shutdown: asyncio.Event) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        layout = SegmentLayout(config.data_dir)
        layout.root.mkdir(exist_ok=True)
        self.health.bind(asyncio.get_running_loop())
        index = self.index or SqliteSegmentIndex(config.data_dir / INDEX_FILE, clock=self.clock)
        self.index = index
        site = SiteDatabase(config.data_dir / SITE_DB)
        await index.open()
        try:
            await site.open()
            log.info("%s", await Reconciler(index, layout).run())
            await self._serve(shutdown, index, site, layout)
        finally:
            if self.fleet is not None:
                await self.fleet.stop_all()
            if self.api is not None:
                await self.api.close()
            await site.close()
            await index.close()

    async def _serve(
        self,
        shutdown: asyncio.Event,
        index: SegmentIndex,
        site: SiteDatabase,
        layout: SegmentLayout,
    ) -> None:
        config = self.config
        cameras = CameraRegistry(config.cameras, site, self.clock)
        self.cameras = cameras
        for problem in await cameras.load():
            log.warning("%s", problem)
        for camera in cameras.all():
            await index.ensure_camera(camera.id, camera.name)
            latest = await index.latest_segment(camera.id)
            if latest is not None and camera.enabled:
                self._note_in_flight(latest)
        probe = self.probe or StatvfsProbe(layout.root)
        retention = RetentionWorker(
            index=index,
            layout=layout,
            policy=retention_policy(config, cameras.all()),
            probe=probe,
            state=self.storage,
            clock=self.clock,
            interval_s=config.storage.retention_interval_s,
            # Each camera is writing about what it wrote last: keep room for that.
            reserve=lambda: sum(self._in_flight.values()),
        )
        await retention.run_once()  # make room before the first segment is written

        stop = asyncio.Event()
        failures: list[BaseException] = []

        def fail(exc: BaseException) -> None:
            log.error("stopping: %s", exc, exc_info=exc)
            failures.append(exc)
            stop.set()

        def segment_indexed(segment: NewSegment) -> None:
            self._note_in_flight(segment)
            retention.poke(segment.bytes)

        opener = self.opener or default_opener(config)
        fleet = CameraFleet(
            config,
            index=index,
            layout=layout,
            health=self.health,
            storage=self.storage,
            clock=self.clock,
            opener=opener,
            on_segment=segment_indexed,
            on_failure=fail,
        )
        self.fleet = fleet

        motion = MotionService(config, index, self.clock, opener=opener)
        self.motion = motion

        async with _motion_running(motion, cameras.all()) as motion_task:

            async def camera_changed(camera_id: str, camera: CameraConfig | None) -> None:
                self._in_flight.pop(camera_id, None)
                await fleet.apply(camera_id, camera)
                await motion.apply(camera_id, camera)
                retention.set_policy(retention_policy(config, cameras.all()))

            cameras.subscribe(camera_changed)
            self.api = await assemble_api(
                config,
                site=site,
                cameras=cameras,
                clock=self.clock,
                layout=layout,
                index=index,
                health=self.health,
                storage=self.storage,
                probe=probe,
                opener=opener,
                latest_keyframe=fleet.latest_keyframe,
                live=fleet.live.get,
                motion=motion,
                relay_dialer=self.relay_dialer,
            )
            for camera in cameras.all():
                await fleet.apply(camera.id, camera)
            tasks = [
                asyncio.create_task(retention.run(stop), name="retention"),
                asyncio.create_task(self.api.server.run(stop), name="api"),
                asyncio.create_task(fleet.end_idle_live(stop), name="live-idle"),
                asyncio.create_task(self.api.tunnel.run(stop), name="tunnel"),
            ]

            def ended(task: asyncio.Task[None]) -> None:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    fail(exc)

            for task in [*tasks, motion_task]:
                task.add_done_callback(ended)
            await self.api.server.ready.wait()
            self.ready.set()
            log.info("recording %d camera(s) into %s", len(fleet.recording), config.data_dir)
            self._log_urls()
            waits = [asyncio.create_task(shutdown.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
            stop.set()
            await fleet.stop_all()
            await asyncio.gather(*tasks, return_exceptions=True)
            if failures:
                raise failures[0]

    def _log_urls(self) -> None:
        assert self.api is not None
        server = self.api.server
        if server.https_port is not None:
            log.info("LAN API: https://<this host>:%d/api/v1", server.https_port)
        if server.http_port is not None:
            host = self.config.api.http_host
            log.info("local API: http://%s:%d/api/v1", host, server.http_port)

    def _note_in_flight(self, last: NewSegment) -> None:
        """Estimate what the camera is writing now: its last segment's byte rate over a whole
        segment (a segment cut short by a reconnect or the breaker must not shrink it)."""
        seconds = max(last.duration_ms, 1000) / 1000
        full = self.config.storage.segment_seconds + 1  # cut at the keyframe after the length
        self._in_flight[last.camera_id] = round(last.bytes / seconds * full)


@contextlib.asynccontextmanager
async def _motion_running(
    motion: MotionService, cameras: list[CameraConfig]
) -> AsyncIterator[asyncio.Task[None]]:
    """Motion runs until everything else has stopped: its events close into the index."""
    stop = asyncio.Event()
    task = asyncio.create_task(motion.run(stop, cameras), name="motion")
    try:
        await _first(motion.ready.wait(), task)
        yield task
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


async def _first(waiting: Coroutine[Any, Any, Any], task: asyncio.Task[None]) -> None:
    """Wait for `waiting`, unless `task` ends first (then raise what stopped it)."""
    waiter = asyncio.ensure_future(waiting)
    await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        task.result()
        raise RuntimeError(f"{task.get_name()} ended before it was ready")


async def run_until_signalled(config: RecorderConfig) -> None:
    """Run until SIGINT or SIGTERM; segments in flight are closed and indexed first."""
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)
    await Recorder(config).run(shutdown)
    log.info("recorder stopped")
