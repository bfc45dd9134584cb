"""`MotionService`: the one entry point of motion detection and events for the recorder.

    motion = MotionService(config, index, clock)
    task = asyncio.create_task(motion.run(shutdown, cameras))   # default: config.cameras
    await motion.apply(camera_id, camera_or_none)                 # a camera changed at runtime
    page = await motion.events.query(EventQuery(camera_ids=frozenset({"front"})))
    queue = motion.bus.subscribe()

`run` opens the event store, closes events a crash left open, starts one source per camera and
kind (software analysis of the substream, ONVIF PullPoint events, or both, per
`cameras.motion.source`), and applies their activity through one `EventWriter`, in order, on one
task. On shutdown, sources end their activity, the events close, and the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.capture.opener import PyAVOptions, PyAVStreamOpener, StreamOpener
from recorder.clock import Clock, SystemClock, pause
from recorder.config import CameraConfig, RecorderConfig, RecordMode
from recorder.errors import RecorderError, Unavailable
from recorder.motion.activity import Signal
from recorder.motion.bus import EventBus
from recorder.motion.config import EventsConfig, MotionSource
from recorder.motion.model import MotionEvent
from recorder.motion.onvif_source import OnvifMotionSource
from recorder.motion.store import EventStore, SqliteEventStore
from recorder.motion.thumbnails import ThumbnailStore
from recorder.motion.worker import MotionSession, MotionStats, MotionWorker
from recorder.motion.writer import DAY_MS, EventWriter, ExternalReport
from recorder.onvif.config import endpoint_for
from recorder.onvif.device import OnvifDevice, ZeepOnvifDevice
from recorder.site import Site
from recorder.storage.index import SegmentIndex

log = logging.getLogger(__name__)

TICK_S = 1.0
PRUNE_INTERVAL_S = 3600.0
# Motion-only recording keeps a segment at least this long after it ends, so that an event
# starting now (detected up to a few seconds late) still finds its pre-roll on disk.
DETECTION_SLACK_S = 15.0

_TICK = "tick"
_STOP = "stop"
DeviceFactory = Callable[[CameraConfig], OnvifDevice]


def motion_only_retention(events: EventsConfig, cameras: Iterable[CameraConfig]) -> dict[str, int]:
    """For `RetentionPolicy.motion_only`: camera id -> ms after its end that a segment no event
    protects may be deleted, for the cameras recording in `motion` mode."""
    grace_s = max(events.post_roll_s, events.pre_roll_s + DETECTION_SLACK_S)
    return {
        camera.id: round(grace_s * 1000)
        for camera in cameras
        if camera.record_mode is RecordMode.MOTION
    }


@dataclass
class _Sources:
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]


class MotionService:
    def __init__(
        self,
        config: RecorderConfig,
        index: SegmentIndex,
        clock: Clock | None = None,
        *,
        opener: StreamOpener | None = None,
        onvif_device: DeviceFactory | None = None,
        store: EventStore | None = None,
        fast_decode: bool = True,
    ) -> None:
        self.config = config
        self._index = index
        self._clock = clock or SystemClock()
        capture = config.capture
        self._opener = opener or PyAVStreamOpener(
            PyAVOptions(
                rtsp_transport=capture.rtsp_transport,
                connect_timeout_s=capture.connect_timeout_s,
                read_timeout_s=capture.read_timeout_s,
            )
        )
        self._onvif_device = onvif_device or (lambda cam: ZeepOnvifDevice(endpoint_for(cam)))
        self._store: EventStore = store or SqliteEventStore(Site(config.data_dir).events_db)
        self._thumbnails = ThumbnailStore(config.data_dir)
        self._fast_decode = fast_decode
        self.bus = EventBus()
        self.ready = asyncio.Event()
        self.software: dict[str, MotionWorker] = {}
        self.onvif: dict[str, OnvifMotionSource] = {}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._handled = asyncio.Event()  # set by the consumer after each signal: wakes the ticker
        # Progress a test can await: ticks handled, and how often the ticker went idle (waiting
        # for a signal, with no timer).
        self.ticks = 0
        self.ticker_idles = 0
        self._writer: EventWriter | None = None
        self._running: dict[str, _Sources] = {}

    @property
    def events(self) -> EventStore:
        """Queries: `query(EventQuery)`, `get(event_id)`. Writes belong to the service."""
        return self._store

    async def thumbnail_path(self, event_id: int) -> Path | None:
        """The event's thumbnail file, if it has one (the path is ours, never a client's)."""
        event = await self._store.get(event_id)
        if event is None or event.thumbnail is None:
            return None
        path = self._thumbnails.absolute(event.thumbnail)
        return path if await asyncio.to_thread(path.is_file) else None

    async def add_external(self, report: ExternalReport) -> MotionEvent:
        """Store, protect and announce an event another device reported (see EventWriter)."""
        writer = self._writer
        if writer is None:
            raise Unavailable("events are not running (starting or stopping)")
        await self._index.ensure_camera(report.camera_id)
        return await writer.add_external(report)

    def stats(self, camera_id: str) -> MotionStats | None:
        worker = self.software.get(camera_id)
        return worker.stats if worker else None

    async def run(
        self, shutdown: asyncio.Event, cameras: Iterable[CameraConfig] | None = None
    ) -> None:
        """Detect until `shutdown` is set, for `cameras` (default: the config file's); later
        changes arrive through `apply`."""
        config = self.config
        writer = EventWriter(
            store=self._store,
            index=self._index,
            thumbnails=self._thumbnails,
            bus=self.bus,
            events=config.events,
            motion={},
            clock=self._clock,
        )
        await self._store.open()
        try:
            await writer.recover()
            self._writer = writer
            consumer = asyncio.create_task(self._consume(writer), name="motion-events")
            helpers = [
                asyncio.create_task(self._ticker(writer, shutdown), name="motion-tick"),
                asyncio.create_task(self._pruner(shutdown), name="motion-prune"),
            ]
            try:
                for camera in config.cameras if cameras is None else cameras:
                    await self._apply(camera.id, camera)
                self.ready.set()
                log.info(
                    "motion: %d camera(s) analysed, %d with ONVIF events",
                    len(self.software),
                    len(self.onvif),
                )
                await shutdown.wait()
            finally:
                # Sources end their activity as they stop; the consumer applies it, then ends.
                await asyncio.gather(*(self._stop_camera(c) for c in list(self._running)))
                await asyncio.gather(*helpers, return_exceptions=True)
                self._queue.put_nowait(_STOP)
                await consumer
                await self.bus.drain()
        finally:
            self._writer = None
            await self._store.close()

    async def apply(self, camera_id: str, camera: CameraConfig | None) -> None:
        """Make the camera's motion sources match `camera` (None: the camera was removed).
        An event in progress ends with the old sources; the next one uses the new settings."""
        await self.ready.wait()
        await self._apply(camera_id, camera)

    async def _apply(self, camera_id: str, camera: CameraConfig | None) -> None:
        if await self._stop_camera(camera_id):
            await self._applied()  # the old sources' last activity is in the store
        if camera is None:
            return
        detecting = camera.enabled and camera.motion.source is not MotionSource.OFF
        if camera.record_mode is RecordMode.MOTION and not detecting:
            log.warning(
                "%s: records in motion mode without motion detection: nothing will be kept",
                camera.id,
            )
        if not detecting:
            return
        assert self._writer is not None
        self._writer.configure(camera.id, camera.motion)
        await self._index.ensure_camera(camera.id, camera.name)
        stop = asyncio.Event()
        tasks = []
        software, onvif = self._make_sources(camera)
        if software is not None:
            self.software[camera.id] = software
            tasks.append(asyncio.create_task(software.run(stop), name=f"motion-{camera.id}"))
        if onvif is not None:
            self.onvif[camera.id] = onvif
            tasks.append(asyncio.create_task(onvif.run(stop), name=f"onvif-{camera.id}"))
        self._running[camera.id] = _Sources(stop, tasks)

    async def _stop_camera(self, camera_id: str) -> bool:
        running = self._running.pop(camera_id, None)
        self.software.pop(camera_id, None)
        self.onvif.pop(camera_id, None)
        if running is None:
            return False
        running.stop.set()
        await asyncio.gather(*running.tasks, return_exceptions=True)
        return True

    async def _applied(self) -> None:
        """Wait until everything queued so far has been applied."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(done)
        await done

    def _make_sources(
        self, camera: CameraConfig
    ) -> tuple[MotionWorker | None, OnvifMotionSource | None]:
        motion = camera.motion
        camera_id = camera.id
        software = onvif = None
        if motion.source.software:

            def make_session(emit: Callable[[Signal], None]) -> MotionSession:
                return MotionSession(
                    camera_id,
                    camera.stream_url("sub"),
                    self._opener,
                    motion,
                    self._clock,
                    emit,
                    read_timeout_s=self.config.capture.read_timeout_s,
                    fast_decode=self._fast_decode,
                )

            software = MotionWorker(
                camera_id,
                make_session,
                self._emitter(camera_id, "software"),
                self._clock,
                self.config.capture.backoff_cap_s,
            )
        if motion.source.onvif:
            onvif = OnvifMotionSource(
                camera_id,
                lambda: self._onvif_device(camera),
                self._emitter(camera_id, "onvif"),
                self._clock,
                end_after_s=motion.end_after_s,
            )
        return software, onvif

    def _emitter(self, camera_id: str, source: str) -> Callable[[Signal], None]:
        def emit(signal: Signal) -> None:
            self._queue.put_nowait((camera_id, source, signal))

        return emit

    async def _consume(self, writer: EventWriter) -> None:
        while True:
            item = await self._queue.get()
            if item == _STOP:
                await writer.tick()
                return
            if isinstance(item, asyncio.Future):
                item.set_result(None)
                continue
            try:
                if item == _TICK:
                    self.ticks += 1
                    await writer.tick()
                else:
                    await writer.handle(*item)
            except Exception:
                # A bug in one change must not stop every camera's events.
                log.exception("motion: event handling failed")
            if item != _TICK:
                self._handled.set()  # an event may be open now: the ticker looks again

    async def _ticker(self, writer: EventWriter, shutdown: asyncio.Event) -> None:
        """Tick once a second while an event is open; with none, sleep until a signal has been
        handled (an idle recorder then has no timer waking it)."""
        while not shutdown.is_set():
            self._handled.clear()  # before looking: a signal handled from now on wakes us
            if not writer.busy:
                self.ticker_idles += 1
                await pause(self._clock, None, self._handled, shutdown)
                continue
            await pause(self._clock, TICK_S, shutdown)
            self._queue.put_nowait(_TICK)

    async def _pruner(self, shutdown: asyncio.Event) -> None:
        while not shutdown.is_set():
            try:
                await self.prune()
            except RecorderError:
                log.exception("motion: pruning old events failed")
            await pause(self._clock, PRUNE_INTERVAL_S, shutdown)

    async def prune(self) -> int:
        """Delete events (and thumbnails) that ended more than `events.retention_days` ago."""
        cutoff = round(self._clock.now() * 1000) - round(self.config.events.retention_days * DAY_MS)
        removed = 0
        while True:
            old: list[MotionEvent] = await self._store.ended_before(cutoff, limit=500)
            if not old:
                break
            for event in old:
                if event.thumbnail:
                    with contextlib.suppress(OSError, ValueError):
                        await asyncio.to_thread(self._thumbnails.delete, event.thumbnail)
            await self._store.delete(e.id for e in old)
            removed += len(old)
        if removed:
            log.info("motion: pruned %d event(s) past retention", removed)
        return removed
