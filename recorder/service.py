"""The recorder service: wires configuration, index, reconciliation, retention and capture.

Start-up order matters: the index opens, reconciliation makes disk and index agree, then
retention and the capture workers start. On shutdown the workers close their segments in
flight and index them before the index closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from recorder.api.assemble import ApiParts, assemble_api
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import PyAVOptions, PyAVStreamOpener, StreamOpener
from recorder.capture.session import CaptureSession, Keyframe, SessionSettings
from recorder.capture.worker import CameraWorker
from recorder.clock import Clock, SystemClock
from recorder.config import CameraConfig, RecorderConfig, RecordMode
from recorder.media.live import LiveStream
from recorder.storage.capacity import CapacityProbe, StatvfsProbe
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from recorder.storage.reconcile import Reconciler
from recorder.storage.retention import RetentionPolicy, Watermarks
from recorder.storage.retention_worker import RetentionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from recorder.storage.state import StorageState

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite3"


def retention_policy(config: RecorderConfig) -> RetentionPolicy:
    storage = config.storage
    return RetentionPolicy(
        retention_days={cam.id: config.retention_days_for(cam) for cam in config.cameras},
        default_retention_days=storage.retention_days,
        quota_bytes=int(storage.max_bytes) if storage.max_bytes else None,
        marks=Watermarks(
            high_percent=storage.high_water_percent,
            low_percent=storage.low_water_percent,
            min_free_bytes=int(storage.min_free_bytes or 0),
        ),
    )


def session_settings(config: RecorderConfig) -> SessionSettings:
    return SessionSettings(
        segment_seconds=config.storage.segment_seconds,
        read_timeout_s=config.capture.read_timeout_s,
        max_gap_s=config.capture.max_drift_s,
        max_drift_s=config.capture.max_drift_s,
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
    _in_flight: dict[str, int] = field(default_factory=dict)  # camera -> bytes being written
    _workers: dict[str, CameraWorker] = field(default_factory=dict)
    api: ApiParts | None = None
    _live: dict[str, LiveStream] = field(default_factory=dict)

    async def run(self, shutdown: asyncio.Event) -> None:
        config = self.config
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        layout = SegmentLayout(data_dir)
        layout.root.mkdir(exist_ok=True)
        self.health.bind(asyncio.get_running_loop())
        index = self.index or SqliteSegmentIndex(data_dir / INDEX_FILE, clock=self.clock)
        self.index = index
        await index.open()
        try:
            summary = await Reconciler(index, layout).run()
            log.info("%s", summary)
            for camera in config.cameras:
                await index.ensure_camera(camera.id, camera.name)
                latest = await index.latest_segment(camera.id)
                if latest is not None and camera.enabled:
                    self._note_in_flight(latest)
            probe = self.probe or StatvfsProbe(layout.root)
            retention = RetentionWorker(
                index=index,
                layout=layout,
                policy=retention_policy(config),
                probe=probe,
                state=self.storage,
                clock=self.clock,
                interval_s=config.storage.retention_interval_s,
                # Each camera is writing about what it wrote last: keep room for that.
                reserve=lambda: sum(self._in_flight.values()),
            )
            await retention.run_once()  # make room before the first segment is written
            # Everything stops together: on a signal, or if any task dies unexpectedly, so
            # that workers finish their segments before the index closes.
            stop = asyncio.Event()
            relay = asyncio.create_task(_relay(shutdown, stop))
            workers = [self._worker(cam, layout, index, retention) for cam in config.cameras]
            self._workers = {w.camera_id: w for w in workers if w is not None}
            self.api = await assemble_api(
                config,
                clock=self.clock,
                layout=layout,
                index=index,
                health=self.health,
                storage=self.storage,
                probe=probe,
                latest_keyframe=self._latest_keyframe,
                live=self._live.get,
            )
            tasks = [asyncio.create_task(retention.run(stop), name="retention")]
            tasks.append(asyncio.create_task(self.api.server.run(stop), name="api"))
            tasks.append(asyncio.create_task(self._stop_idle_live(stop), name="live-idle"))
            tasks += [
                asyncio.create_task(worker.run(stop), name=f"camera-{worker.camera_id}")
                for worker in workers
                if worker is not None
            ]
            for task in tasks:
                task.add_done_callback(lambda _task: stop.set())
            await self.api.server.ready.wait()
            self.ready.set()
            log.info("recording %d camera(s) into %s", len(self._workers), data_dir)
            self._log_urls()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            relay.cancel()
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
        finally:
            if self.api is not None:
                await self.api.close()
            await index.close()

    def _latest_keyframe(self, camera_id: str) -> Keyframe | None:
        worker = self._workers.get(camera_id)
        session = worker.session if worker else None
        state = self.health.get(camera_id).state
        if session is None or state not in (CameraState.ONLINE, CameraState.PAUSED):
            return None  # offline: the API falls back to the last recorded keyframe
        return session.latest_keyframe

    async def _stop_idle_live(self, stop: asyncio.Event) -> None:
        """Live streams end 30 s after their last request."""
        while not stop.is_set():
            for live in self._live.values():
                if live.stop_if_idle():
                    log.info("%s: live view stopped (no viewers)", live.camera_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5)

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

    def _worker(
        self,
        camera: CameraConfig,
        layout: SegmentLayout,
        index: SegmentIndex,
        retention: RetentionWorker,
    ) -> CameraWorker | None:
        if not camera.enabled or camera.record_mode is RecordMode.OFF:
            self.health.update(camera.id, state=CameraState.DISABLED, reason="recording off")
            return None
        capture = self.config.capture
        opener = self.opener or PyAVStreamOpener(
            PyAVOptions(
                rtsp_transport=capture.rtsp_transport,
                connect_timeout_s=capture.connect_timeout_s,
                read_timeout_s=capture.read_timeout_s,
            )
        )
        settings = session_settings(self.config)
        storage = self.storage

        live = self._live.setdefault(camera.id, LiveStream(camera.id, self.clock))

        def make_session(on_segment: Callable[[NewSegment], None]) -> CaptureSession:
            return CaptureSession(
                camera.id,
                camera.stream_url("main"),
                opener,
                layout,
                settings,
                self.health,
                self.clock,
                on_segment,
                writable=lambda: storage.writable,
                tap=live.feed,
            )

        async def index_segment(segment: NewSegment) -> None:
            await index.add_segment(segment)
            self._note_in_flight(segment)
            retention.poke()

        return CameraWorker(
            camera.id, make_session, index_segment, self.health, self.clock, capture.backoff_cap_s
        )


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def run_until_signalled(config: RecorderConfig) -> None:
    """Run until SIGINT or SIGTERM; segments in flight are closed and indexed first."""
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)
    await Recorder(config).run(shutdown)
    log.info("recorder stopped")
