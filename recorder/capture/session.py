"""One connection to one camera: read packets, cut them into segments, until told to stop.

Two threads per session. The reader thread blocks in PyAV's demuxer and only queues packets
with their arrival time. The session thread cuts and writes segments. The split keeps
shutdown and silence detection prompt: a camera that stops sending leaves the reader blocked,
but the session thread notices the silence on its own clock, closes the segment in flight and
returns; the abandoned reader ends at PyAV's read timeout.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import OpenedStream, StreamOpener
from recorder.capture.segment_writer import SegmentWriter
from recorder.capture.timeline import Break, RunTimeline
from recorder.clock import Clock
from recorder.errors import StreamError, StreamTimeout, StreamUnusable
from recorder.media.live import LivePacket
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)

_EOF = object()
QUEUE_PACKETS = 2000  # about a minute of a busy camera: the session thread never lags that much
HEALTH_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Keyframe:
    """The newest keyframe of a live session: enough to decode one picture (snapshots)."""

    data: bytes
    codec: str
    extradata: bytes | None
    wall_ms: int


@dataclass(frozen=True)
class SessionSettings:
    segment_seconds: float = 10
    read_timeout_s: float = 20
    max_gap_s: float = 3.0
    max_drift_s: float = 3.0
    keyframe_timeout_s: float = 10.0  # packets but no keyframe this long: the stream is unusable


class PacketReader:
    def __init__(self, stream: OpenedStream, clock: Clock, name: str) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PACKETS)
        self._stream = stream
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"read-{name}", daemon=True)
        # The container is closed by whichever of the two threads finishes last: the session
        # thread still uses its streams as templates after the reader hit the end, and the
        # reader may still be blocked inside FFmpeg after the session gave up on it.
        self._lock = threading.Lock()
        self._users = 2

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Called by the session thread when it is done with the stream."""
        self._stop.set()
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._stream.close()

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            for packet in self._stream.packets():
                if self._stop.is_set():
                    break
                self._put((packet, self._clock.now(), self._clock.monotonic()))
            self._put(_EOF)
        except StreamError as exc:
            self._put(exc)
        finally:
            self._release()


class CaptureSession:
    def __init__(
        self,
        camera_id: str,
        url: str,
        opener: StreamOpener,
        layout: SegmentLayout,
        settings: SessionSettings,
        health: HealthBoard,
        clock: Clock,
        on_segment: Callable[[NewSegment], None],
        writable: Callable[[], bool] = lambda: True,
        tap: Callable[[LivePacket], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self._opener = opener
        self._layout = layout
        self._settings = settings
        self._health = health
        self._clock = clock
        self._on_segment = on_segment
        self._writable = writable
        self._stop = threading.Event()
        self.latest_keyframe: Keyframe | None = None  # replaced whole, so safe to read anywhere
        self.tap: Callable[[LivePacket], None] | None = tap
        self._timeline = RunTimeline(settings.max_gap_s, settings.max_drift_s)
        self._writer: SegmentWriter | None = None
        self._stream: OpenedStream | None = None
        self._seg_start_pts = 0.0
        self._last_video_pts: float | None = None
        self._frame_s = 1 / 15
        self._seg_end_pts = 0.0  # PTS just after the last video frame written
        self._written_until_ms = 0  # end of the last finished segment
        self._run_start_ms: int | None = None
        self._paused = False
        # Throughput counters since the last health report.
        self._window_bytes = 0
        self._window_frames = 0
        self._window_start = 0.0
        self._segments = 0
        self._received = self._written = self._skipped = 0
        # Counts of earlier sessions of this camera, so health shows totals.
        before = health.get(camera_id)
        self._base_counts = (
            before.segments_written,
            before.packets_received,
            before.packets_written,
            before.packets_skipped,
        )

    def stop(self) -> None:
        """Ask the session to finish its segment and return (thread-safe)."""
        self._stop.set()

    def run(self) -> None:
        """Blocking: connect and record until stopped; raises StreamError when the stream fails."""
        self._health.post_threadsafe(self.camera_id, state=CameraState.CONNECTING, reason="")
        stream = self._opener.open(self._url)
        self._stream = stream
        info = stream.info
        self._frame_s = 1 / info.fps if info.fps else self._frame_s
        reader = PacketReader(stream, self._clock, self.camera_id)
        reader.start()
        now_ms = round(self._clock.now() * 1000)
        self._health.post_threadsafe(
            self.camera_id,
            state=CameraState.ONLINE,
            reason="",
            since_ms=now_ms,
            width=info.width,
            height=info.height,
            video_codec=info.video_codec,
            has_audio=info.audio_codec is not None,
        )
        try:
            self._loop(reader, stream)
        finally:
            reader.stop()
            self._close_segment()
            self._report_counts()

    def _loop(self, reader: PacketReader, stream: OpenedStream) -> None:
        settings = self._settings
        last_packet = self._clock.monotonic()
        last_keyframe = last_packet
        self._window_start = last_packet
        while not self._stop.is_set():
            try:
                item = reader.queue.get(timeout=0.25)
            except queue.Empty:
                silent = self._clock.monotonic() - last_packet
                if silent > settings.read_timeout_s:
                    raise StreamTimeout(f"no packets for {silent:.0f} s") from None
                continue
            if item is _EOF:
                raise StreamError("the camera closed the stream")
            if isinstance(item, StreamError):
                raise item
            # Times of arrival, not of processing: the queue may hold a backlog.
            packet, arrival, mono = item
            last_packet = mono
            self._received += 1
            if self._writer is not None and not self._writable():
                # The circuit breaker opened: stop now, not at the end of the segment.
                self._close_segment()
                self._pause()
            if packet.stream is stream.video:
                if packet.is_keyframe:
                    last_keyframe = mono
                elif mono - last_keyframe > settings.keyframe_timeout_s:
                    raise StreamUnusable(
                        f"no keyframe in {settings.keyframe_timeout_s:.0f} s: stream unusable"
                    )
                self._on_video(packet, arrival, stream)
            else:
                self._feed_tap(packet, stream, False, 0)
                if self._writer is not None:
                    self._count(self._writer.write(packet))
                else:
                    self._skipped += 1
            self._window_bytes += packet.size
            if mono - self._window_start >= HEALTH_INTERVAL_S:
                self._report(mono, arrival)

    def _on_video(self, packet: Any, arrival: float, stream: OpenedStream) -> None:
        ticks = packet.pts if packet.pts is not None else packet.dts
        pts_s = float(ticks * packet.time_base)
        self._window_frames += 1
        if self._last_video_pts is not None and 0 < pts_s - self._last_video_pts < 1:
            self._frame_s = pts_s - self._last_video_pts
        anchor_before = self._timeline.anchor  # the closing segment belongs to the old run
        broke = self._timeline.observe(pts_s, arrival)
        if packet.is_keyframe:
            ctx = stream.video.codec_context
            self.latest_keyframe = Keyframe(
                bytes(packet), ctx.name, ctx.extradata, self._timeline.wall_ms(pts_s)
            )
        self._feed_tap(packet, stream, True, self._timeline.wall_ms(pts_s))
        if broke is not Break.NONE:
            if broke is not Break.FIRST:
                log.info("%s: new run (%s)", self.camera_id, broke.value)
            self._close_segment(anchor_before)
            self._run_start_ms = None
        self._last_video_pts = pts_s
        writer = self._writer
        if packet.is_keyframe and (
            writer is None or pts_s - self._seg_start_pts >= self._settings.segment_seconds
        ):
            self._seg_end_pts = pts_s  # the next segment starts where this one ends
            self._close_segment()
            writer = self._open_segment(pts_s, stream)
        if writer is None:
            self._skipped += 1
        else:
            self._count(writer.write(packet))
            self._seg_end_pts = pts_s + self._frame_s

    def _open_segment(self, pts_s: float, stream: OpenedStream) -> SegmentWriter | None:
        if not self._writable():
            self._pause()
            return None
        if self._paused:
            self._paused = False
            self._health.post_threadsafe(self.camera_id, state=CameraState.ONLINE, reason="")
        self._writer = SegmentWriter(
            self._layout,
            self.camera_id,
            stream.video,
            stream.audio,
            provisional_start_ms=max(self._timeline.wall_ms(pts_s), self._written_until_ms),
            run_base_s=self._timeline.run_start_pts,
        )
        self._seg_start_pts = pts_s
        return self._writer

    def _report_counts(self) -> None:
        base = self._base_counts
        self._health.post_threadsafe(
            self.camera_id,
            segments_written=base[0] + self._segments,
            packets_received=base[1] + self._received,
            packets_written=base[2] + self._written,
            packets_skipped=base[3] + self._skipped,
        )

    def _feed_tap(self, packet: Any, stream: OpenedStream, is_video: bool, wall_ms: int) -> None:
        """Give live view a copy of the packet (before the writer rebases it)."""
        tap = self.tap
        if tap is None:
            return
        dts = packet.dts if packet.dts is not None else packet.pts
        try:
            tap(
                LivePacket(
                    stream,
                    is_video,
                    bool(packet.is_keyframe),
                    bytes(packet),
                    packet.pts if packet.pts is not None else dts,
                    dts,
                    packet.time_base,
                    wall_ms,
                )
            )
        except Exception:  # live view must never stop recording
            log.exception("%s: live view failed on a packet", self.camera_id)

    def _count(self, written: bool) -> None:
        if written:
            self._written += 1
        else:
            self._skipped += 1  # audio from before the run's first frame, or a duplicate

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._health.post_threadsafe(
                self.camera_id, state=CameraState.PAUSED, reason="storage full: not recording"
            )

    def _close_segment(self, anchor: float | None = None) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if writer.packets == 0:
            writer.abort()
            return
        # Wall times are settled now, with the best anchor so far (it only moves earlier, as
        # the earliest arrival improves). Never start before what is already written, so
        # segments never overlap; within a run, each starts where the previous one ended.
        offset = self._timeline.anchor if anchor is None else anchor
        assert offset is not None, "a segment is open, so a run has started"

        def wall_ms(pts_s: float) -> int:
            return round((offset + pts_s) * 1000)

        start_ms = max(wall_ms(self._seg_start_pts), self._written_until_ms)
        if self._run_start_ms is None:
            # Fixed for the run (it names it), though the anchor may still improve.
            self._run_start_ms = min(wall_ms(writer.run_base_s), start_ms)
        end_ms = max(wall_ms(self._seg_end_pts), start_ms + 1)
        segment = writer.finish(self._run_start_ms, start_ms, end_ms)
        self._written_until_ms = segment.end_ms
        self._segments += 1
        self._on_segment(segment)

    def _report(self, mono: float, arrival: float) -> None:
        elapsed = mono - self._window_start
        self._health.post_threadsafe(
            self.camera_id,
            last_packet_ms=round(arrival * 1000),
            bitrate_bps=self._window_bytes * 8 / elapsed,
            fps=self._window_frames / elapsed,
        )
        self._report_counts()
        self._window_bytes = 0
        self._window_frames = 0
        self._window_start = mono
