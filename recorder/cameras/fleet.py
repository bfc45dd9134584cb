"""The running capture workers, one per recording camera, started and stopped one at a time.

A camera added, changed or removed through the API restarts only its own worker: the segment it
was writing is closed and indexed, the others keep recording. Every worker hands its segments
to the same `SegmentSink` (the service's `RecordingPipeline`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from recorder.capture.affinity import choose_cpu
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import PyAVOptions, PyAVStreamOpener, StreamOpener
from recorder.capture.session import CaptureSession, Keyframe, SessionSettings
from recorder.capture.sink import SegmentSink
from recorder.capture.worker import CameraWorker
from recorder.clock import Clock, pause
from recorder.config import CameraConfig, RecorderConfig, RecordMode
from recorder.media.live import LiveStream
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from recorder.storage.state import StorageState

log = logging.getLogger(__name__)

LIVE_IDLE_CHECK_S = 5.0  # how often watched live streams are checked for viewers gone


def session_settings(config: RecorderConfig) -> SessionSettings:
    return SessionSettings(
        segment_seconds=config.storage.segment_seconds,
        read_timeout_s=config.capture.read_timeout_s,
        max_gap_s=config.capture.max_drift_s,
        max_drift_s=config.capture.max_drift_s,
        cpu=choose_cpu(config.capture.cpu),
    )


def default_opener(config: RecorderConfig) -> StreamOpener:
    capture = config.capture
    return PyAVStreamOpener(
        PyAVOptions(
            rtsp_transport=capture.rtsp_transport,
            connect_timeout_s=capture.connect_timeout_s,
            read_timeout_s=capture.read_timeout_s,
        )
    )


@dataclass
class _Running:
    worker: CameraWorker
    stop: asyncio.Event
    task: asyncio.Task[None]


class CameraFleet:
    def __init__(
        self,
        config: RecorderConfig,
        *,
        index: SegmentIndex,
        layout: SegmentLayout,
        health: HealthBoard,
        storage: StorageState,
        clock: Clock,
        opener: StreamOpener,
        sink: SegmentSink,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._config = config
        # Once for every camera: choosing the capture CPU reads the loop thread's affinity.
        self._settings = session_settings(config)
        self._index = index
        self._layout = layout
        self._health = health
        self._storage = storage
        self._clock = clock
        self._opener = opener
        self._sink = sink
        self._on_failure = on_failure
        self._running: dict[str, _Running] = {}
        self.live: dict[str, LiveStream] = {}
        self._live_started = asyncio.Event()
        self.live_sweeps = 0  # passes of `end_idle_live` done: progress a test can await

    async def apply(self, camera_id: str, camera: CameraConfig | None) -> None:
        """Make the running worker of `camera_id` match `camera` (None: removed)."""
        await self.stop(camera_id)
        if camera is None:
            self.live.pop(camera_id, None)
            return
        await self._index.ensure_camera(camera.id, camera.name)
        if not camera.enabled or camera.record_mode is RecordMode.OFF:
            self._health.update(camera.id, state=CameraState.DISABLED, reason="recording off")
            return
        worker = self._worker(camera)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name=f"camera-{camera.id}")
        task.add_done_callback(self._died)
        self._running[camera.id] = _Running(worker, stop, task)

    def _died(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._on_failure(task.exception())  # type: ignore[arg-type]

    async def stop(self, camera_id: str) -> None:
        running = self._running.pop(camera_id, None)
        if running is not None:
            running.stop.set()
            await running.task

    def live_stream(self, camera_id: str) -> LiveStream:
        """The camera's live stream, made on first use; it lives as long as the camera."""
        live = self.live.get(camera_id)
        if live is None:
            live = LiveStream(camera_id, self._clock, on_start=self._live_started.set)
            self.live[camera_id] = live
        return live

    async def end_idle_live(self, stop: asyncio.Event) -> None:
        """End each live stream 30 s after its last request (`IDLE_STOP_S`), until `stop`.
        While no stream is watched this sleeps until one starts: an idle recorder has no
        timer to wake for (docs/design/capture.md, "Cost")."""
        while not stop.is_set():
            for live in self.live.values():
                if live.stop_if_idle():
                    log.info("%s: live view stopped (no viewers)", live.camera_id)
            self.live_sweeps += 1
            if any(live.active for live in self.live.values()):
                await pause(self._clock, LIVE_IDLE_CHECK_S, stop)
            else:
                self._live_started.clear()
                await pause(self._clock, None, stop, self._live_started)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(camera_id) for camera_id in list(self._running)))

    @property
    def recording(self) -> list[str]:
        return sorted(self._running)

    def latest_keyframe(self, camera_id: str) -> Keyframe | None:
        running = self._running.get(camera_id)
        session = running.worker.session if running else None
        state = self._health.get(camera_id).state
        if session is None or state not in (CameraState.ONLINE, CameraState.PAUSED):
            return None  # offline: the API falls back to the last recorded keyframe
        return session.latest_keyframe

    def _worker(self, camera: CameraConfig) -> CameraWorker:
        settings = self._settings
        storage = self._storage
        live = self.live_stream(camera.id)
        url = camera.stream_url("main")

        def make_session(on_segment: Callable[[NewSegment], None]) -> CaptureSession:
            return CaptureSession(
                camera.id,
                url,
                self._opener,
                self._layout,
                settings,
                self._health,
                self._clock,
                on_segment,
                writable=lambda: storage.writable,
                tap=live.feed,
            )

        return CameraWorker(
            camera.id,
            make_session,
            self._sink,
            self._health,
            self._clock,
            self._config.capture.backoff_cap_s,
        )
