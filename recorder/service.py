"""The recorder service: wires configuration, index, reconciliation, retention, cameras and API.

Start-up order matters, and recording comes first: the index opens and what the last crash left
at the end of each camera's recordings is recovered (the segment in flight keeps its complete
fragments: `Reconciler.recover_tail`, a few directories per camera); the site database opens and
camera changes made through the API are applied over the config file; retention makes room; the
cameras start; then the full reconciliation walks the store beside them (it leaves what capture
writes alone), motion starts and the API listens. On a store of 2.6 M segments the walk takes
10-30 s: nothing waits for it (docs/design/segments.md, docs/ref/bench.md). On shutdown the
workers close their segments in flight and index them before the index closes. If any task
dies unexpectedly, everything stops the same orderly way (the walk only logs its failure:
recording goes on without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recorder.cameras.fleet import CameraFleet, default_opener
from recorder.cameras.pipeline import InFlight, RecordingPipeline
from recorder.cameras.registry import CameraRegistry
from recorder.capture.health import HealthBoard
from recorder.capture.opener import StreamOpener
from recorder.clock import Clock, SystemClock
from recorder.config import CameraConfig, RecorderConfig
from recorder.motion.service import MotionService, motion_only_retention
from recorder.site import Site
from recorder.site_db import SiteDatabase
from recorder.storage.capacity import CapacityProbe, StatvfsProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.reconcile import Reconciler
from recorder.storage.retention import RetentionPolicy, Watermarks
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState
from recorder.tunnel.links import RecorderDialer

if TYPE_CHECKING:
    from recorder.api.assemble import ApiParts

log = logging.getLogger(__name__)


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
        events_yield_to_space=storage.events_yield_to_space,
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
    pipeline: RecordingPipeline | None = None

    async def run(self, shutdown: asyncio.Event) -> None:
        config = self.config
        files = Site(config.data_dir)
        files.create()
        layout = SegmentLayout(config.data_dir)
        self.health.bind(asyncio.get_running_loop())
        index = self.index or SqliteSegmentIndex(files.index_db, clock=self.clock)
        self.index = index
        site = SiteDatabase(files.site_db)
        await index.open()
        try:
            await site.open()
            reconciler = Reconciler(index, layout)
            await reconciler.recover_tail()
            # From here on, files and rows are capture's: the full walk leaves them alone.
            capture_from_ms = round(self.clock.now() * 1000)
            await self._serve(shutdown, index, site, layout, reconciler, capture_from_ms)
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
        reconciler: Reconciler,
        capture_from_ms: int,
    ) -> None:
        config = self.config
        cameras = CameraRegistry(config.cameras, site, self.clock)
        self.cameras = cameras
        for problem in await cameras.load():
            log.warning("%s", problem)
        in_flight = InFlight(config.storage.segment_seconds)
        for camera in cameras.all():
            await index.ensure_camera(camera.id, camera.name)
            latest = await index.latest_segment(camera.id)
            if latest is not None and camera.enabled:
                in_flight.note(latest)
        probe = self.probe or StatvfsProbe(layout.root)
        retention = RetentionWorker(
            index=index,
            layout=layout,
            policy=retention_policy(config, cameras.all()),
            probe=probe,
            state=self.storage,
            clock=self.clock,
            interval_s=config.storage.retention_interval_s,
            watch_interval_s=config.storage.watch_interval_s,
            # Each camera is writing about what it wrote last: keep room for that.
            reserve=in_flight.total,
        )
        await retention.run_once()  # make room before the first segment is written

        stop = asyncio.Event()
        failures: list[BaseException] = []

        def fail(exc: BaseException) -> None:
            log.error("stopping: %s", exc, exc_info=exc)
            failures.append(exc)
            stop.set()

        pipeline = RecordingPipeline(index, in_flight, retention)
        self.pipeline = pipeline
        opener = self.opener or default_opener(config)
        fleet = CameraFleet(
            config,
            index=index,
            layout=layout,
            health=self.health,
            storage=self.storage,
            clock=self.clock,
            opener=opener,
            sink=pipeline,
            on_failure=fail,
        )
        self.fleet = fleet
        for camera in cameras.all():
            await fleet.apply(camera.id, camera)
        walk = asyncio.create_task(
            _reconcile_beside_capture(reconciler, capture_from_ms, stop), name="reconcile"
        )
        try:
            motion = MotionService(config, index, self.clock, opener=opener)
            self.motion = motion

            async with _motion_running(motion, cameras.all()) as motion_task:

                async def camera_changed(camera_id: str, camera: CameraConfig | None) -> None:
                    in_flight.forget(camera_id)
                    await fleet.apply(camera_id, camera)
                    await motion.apply(camera_id, camera)
                    retention.set_policy(retention_policy(config, cameras.all()))

                cameras.subscribe(camera_changed)
                # Late: the API package (FastAPI and the routes) is most of the recorder's
                # import time, and the cameras record before it is needed.
                from recorder.api.assemble import assemble_api

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
                tasks = [
                    walk,
                    asyncio.create_task(retention.run(stop), name="retention"),
                    asyncio.create_task(self.api.server.run(stop), name="api"),
                    asyncio.create_task(fleet.end_idle_live(stop), name="live-idle"),
                    asyncio.create_task(self.api.tunnel.run(stop), name="tunnel"),
                    asyncio.create_task(self.api.run_push(stop), name="push"),
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
        finally:
            stop.set()  # the walk stops between chunks, before the index closes
            await asyncio.gather(walk, return_exceptions=True)

    def _log_urls(self) -> None:
        assert self.api is not None
        server = self.api.server
        if server.https_port is not None:
            log.info("LAN API: https://<this host>:%d/api/v1", server.https_port)
        if server.http_port is not None:
            host = self.config.api.http_host
            log.info("local API: http://%s:%d/api/v1", host, server.http_port)


async def _reconcile_beside_capture(
    reconciler: Reconciler, capture_from_ms: int, stop: asyncio.Event
) -> None:
    """The full walk, while capture runs; its failure is logged, not fatal: the index is whole
    up to the crash already (`recover_tail`), and recording matters more."""
    try:
        await reconciler.run(before_ms=capture_from_ms, stop=stop)
    except Exception as exc:
        log.error("reconciliation failed (recording goes on): %s", exc, exc_info=exc)


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
