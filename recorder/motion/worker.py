"""Software motion detection for one camera: decode the substream, analyse, track activity.

`MotionSession.run()` is one connection, blocking, in its own thread: a `PacketReader` thread
(shared with capture) reads packets with their arrival times, this thread decodes every one and
analyses the frames due at the analysis rate. Activity signals are handed to the event loop.
`MotionWorker.run()` keeps sessions going with full-jitter exponential backoff (tenacity),
reset after a session that stayed up; `run_once()` runs one session and raises its failure.
When a session ends for any reason, an activity in progress ends at its last motion.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from recorder.capture.opener import StreamOpener
from recorder.capture.session import PacketReader
from recorder.clock import Clock
from recorder.errors import RecorderError, StreamError, StreamTimeout
from recorder.motion.activity import ActivityTracker, Signal
from recorder.motion.analysis import AnalysisSettings, FrameResult, MotionAnalyzer
from recorder.motion.config import MotionConfig
from recorder.motion.frames import FrameDecoder, configure_decoder
from recorder.reconnect import Reconnector, run_in_thread

log = logging.getLogger(__name__)

SOURCE = "software"


@dataclass
class MotionStats:
    """Counters for health pages and benchmarks (written by the session thread)."""

    sessions: int = 0
    decoded: int = 0
    analysed: int = 0
    motion_frames: int = 0
    recalibrations: int = 0
    last_error: str = ""


class MotionSession:
    def __init__(
        self,
        camera_id: str,
        url: str,
        opener: StreamOpener,
        config: MotionConfig,
        clock: Clock,
        emit: Callable[[Signal], None],
        *,
        read_timeout_s: float = 20.0,
        fast_decode: bool = True,
        stats: MotionStats | None = None,
        observer: Callable[[float, FrameResult], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self._opener = opener
        self._config = config
        self._clock = clock
        self._emit = emit
        self._read_timeout_s = read_timeout_s
        self._fast_decode = fast_decode
        self._stop = threading.Event()
        self.stats = stats or MotionStats()
        self._observer = observer  # every analysed frame (diagnostics, benchmarks, tests)
        self.analyzer = MotionAnalyzer(AnalysisSettings.of(config))
        self.tracker = ActivityTracker(config.start_frames, config.end_after_s)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Blocking: analyse until stopped; raises StreamError when the stream fails."""
        stream = self._opener.open(self._url)
        self.stats.sessions += 1
        try:
            configure_decoder(stream.video, fast=self._fast_decode)
            decoder = FrameDecoder(stream.video, fps=self._config.fps, width=self._config.width)
        except BaseException:
            stream.close()
            raise
        reader = PacketReader(stream, self._clock, f"motion-{self.camera_id}")
        reader.start()
        try:
            self._loop(reader, decoder)
        finally:
            reader.stop()
            for signal in self.tracker.close():
                self._emit(signal)

    def _loop(self, reader: PacketReader, decoder: FrameDecoder) -> None:
        clock, stats = self._clock, self.stats
        decoded_before = stats.decoded
        last_packet = clock.monotonic()
        while not self._stop.is_set():
            try:
                item = reader.queue.get(timeout=0.25)
            except queue.Empty:
                silent = clock.monotonic() - last_packet
                if silent > self._read_timeout_s:
                    raise StreamTimeout(f"no packets for {silent:.0f} s") from None
                continue
            if isinstance(item, StreamError):
                raise item
            if not isinstance(item, tuple):
                raise StreamError("the camera closed the stream")
            packet, arrival, last_packet = item
            for sampled in decoder.decode(packet, arrival):
                result = self.analyzer.analyze(sampled.gray)
                stats.analysed += 1
                stats.motion_frames += result.motion
                if self._observer is not None:
                    self._observer(sampled.at, result)
                sighting = ActivityTracker.sighting(sampled.at, result, sampled.frame)
                for signal in self.tracker.feed(sampled.at, sighting):
                    self._emit(signal)
            stats.decoded = decoded_before + decoder.decoded
            stats.recalibrations = self.analyzer.recalibrations


SessionFactory = Callable[[Callable[[Signal], None]], MotionSession]


class MotionWorker:
    """Keeps one camera's motion sessions running; `emit` is called on the event loop."""

    def __init__(
        self,
        camera_id: str,
        make_session: SessionFactory,
        emit: Callable[[Signal], None],
        clock: Clock,
        backoff_cap_s: float = 30.0,
    ) -> None:
        self.camera_id = camera_id
        self._make_session = make_session
        self._emit = emit
        self._clock = clock
        self._reconnector = Reconnector(clock, self._log_failure, backoff_cap_s=backoff_cap_s)
        self.stats = MotionStats()

    @property
    def reconnects(self) -> int:
        return self._reconnector.reconnects

    async def run(self, shutdown: asyncio.Event) -> None:
        await self._reconnector.run(shutdown, self.run_once)

    async def run_once(self, shutdown: asyncio.Event) -> None:
        """One session in its own thread until shutdown (returns) or failure (raises)."""
        loop = asyncio.get_running_loop()

        def hand_over(signal: Signal) -> None:
            loop.call_soon_threadsafe(self._emit, signal)

        session = self._make_session(hand_over)
        session.stats = self.stats
        await run_in_thread(session, shutdown, f"motion-{self.camera_id}")

    def _log_failure(self, exc: BaseException) -> None:
        self.stats.last_error = str(exc)
        if isinstance(exc, RecorderError):
            log.warning("%s: motion detection: %s; reconnecting", self.camera_id, exc)
        else:
            log.error("%s: motion detection failed; reconnecting", self.camera_id, exc_info=exc)
