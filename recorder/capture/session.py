"""One connection to one camera: read packets, cut them into segments, until told to stop.

Two threads per session. The reader thread blocks in PyAV's demuxer. As each packet arrives it
only notes the arrival time; at each video keyframe it handles the GOP that ends there in one go
(or what came in the last `MAX_HOLD_S`, if the GOP is longer): places the packets on the wall
clock, cuts segments at keyframes, muxes them into the segment's `.partial` file and gives them
to live view. The session thread makes each closed segment durable (fsync, rename, fsync the
directory) and hands it over, in order, and watches: a camera that stops sending leaves the
reader blocked in FFmpeg, but the session thread notices the silence on its own clock, handles
what the reader had received, closes the segment in flight and returns; the abandoned reader
ends at FFmpeg's socket timeout. A lock keeps the two threads from touching the segment in
flight at once; the reader holds it only while it handles a GOP, never while it waits for a
packet.

Packets are not queued from one thread to the other: with 16 cameras, a hand-over per packet
(queue, wake-up, GIL) cost more CPU than the muxing itself. Nor is each one handled on its own
wake-up: a GOP handled at once runs the interpreter and FFmpeg's muxer on warm caches, for 8 %
(16 cameras) to 18 % (one camera) less CPU than a cold run per packet (docs/design/capture.md).
Live view loses nothing by it (HLS publishes whole GOPs), and segments are still cut at the
keyframe as it arrives.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder.capture.affinity import pin_current_thread
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.opener import OpenedStream, StreamOpener
from recorder.capture.reader import PacketReader as PacketReader  # motion reads with it
from recorder.capture.reader import SharedStream
from recorder.capture.segment_writer import SegmentWriter
from recorder.capture.timeline import Break, RunTimeline
from recorder.clock import Clock
from recorder.errors import RecorderError, StreamError, StreamTimeout, StreamUnusable
from recorder.media.keyframe import picture_size
from recorder.media.live import LivePacket
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 2.0  # bitrate and fps are averaged over this window
MIN_WATCH_S = 0.05  # the session thread's shortest sleep while it waits for silence
MAX_HOLD_S = 1.0  # packets wait this long at most for their keyframe: a long GOP still moves on
_WAKE = object()  # queued to wake the session thread: stop, or the reader failed


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
    cpu: int | None = None  # the CPU the session's threads share (capture/affinity.py)


@dataclass(frozen=True)
class _Closed:
    """A segment the reader closed, with its settled times: the session thread finishes it."""

    writer: SegmentWriter
    run_start_ms: int
    start_ms: int
    end_ms: int


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
        # The segment in flight and everything the reader thread updates per packet are guarded
        # by `_lock`; once `_done` is set (under the lock), the reader touches nothing more.
        self._lock = threading.Lock()
        self._done = False
        self._failure: BaseException | None = None  # why the reader stopped
        self._closed: queue.SimpleQueue[object] = queue.SimpleQueue()  # _Closed, or _WAKE
        # (packet, arrival wall time, arrival monotonic time) not handled yet: appended by the
        # reader alone, handled and emptied under the lock by whichever thread holds it.
        self._pending: list[tuple[Any, float, float]] = []
        self._writer: SegmentWriter | None = None
        self._video: Any = None  # the stream's video stream: tells video packets from audio
        self._time_bases: tuple[Any, Any] = (None, None)  # (video, audio), as av.Stream has them
        self._time_base = (1, 1)  # of the video stream, as integers: exact and fast
        self._seg_start_pts = 0.0
        self._last_video_pts: float | None = None
        self._frame_s = 1 / 15
        self._size: tuple[int, int] | None = None  # when the probe found none: from a keyframe
        self._seg_end_pts = 0.0  # PTS just after the last video frame written
        self._written_until_ms = 0  # end of the last closed segment
        self._run_start_ms: int | None = None
        self._paused = False
        self._last_packet = 0.0  # monotonic arrival of the newest packet
        self._last_keyframe = 0.0
        # Throughput over the last complete window, and counters of the current one.
        self._rates = (0.0, 0.0)  # (bits/s, frames/s), replaced whole
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
        self._figures = self._current_figures  # one bound method: the board tells it by identity

    def stop(self) -> None:
        """Ask the session to finish its segment and return (thread-safe)."""
        self._stop.set()
        self._closed.put(_WAKE)

    def run(self) -> None:
        """Blocking: connect and record until stopped; raises StreamError when the stream fails."""
        pin_current_thread(self._settings.cpu)
        self._health.post_threadsafe(self.camera_id, state=CameraState.CONNECTING, reason="")
        stream = self._opener.open(self._url)
        shared = SharedStream(stream)
        info = stream.info
        self._frame_s = 1 / info.fps if info.fps else self._frame_s
        self._video = stream.video
        base = stream.video.time_base
        self._time_base = (base.numerator, base.denominator)
        # A packet's own `time_base` builds a new Fraction at each read: read the streams' once.
        self._time_bases = (base, stream.audio.time_base if stream.audio is not None else None)
        self._last_packet = self._last_keyframe = self._window_start = self._clock.monotonic()
        reader = threading.Thread(
            target=self._read, args=(shared,), name=f"read-{self.camera_id}", daemon=True
        )
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
        self._health.track_threadsafe(self.camera_id, self._figures)
        reader.start()
        try:
            self._watch()
        finally:
            with self._lock:
                self._done = True
                self._handle_last(stream)
                self._close_segment()
            shared.release()
            self._finish_closed()
            self._health.untrack_threadsafe(self.camera_id, self._figures)

    # -- session thread -----------------------------------------------------------------------

    def _watch(self) -> None:
        """Finish closed segments in order until stopped; raise why the reader stopped, or a
        silence longer than the read timeout."""
        timeout_s = self._settings.read_timeout_s
        while not self._stop.is_set():
            # Sleep until the silence would reach the read timeout, not a fixed tick: every
            # wake-up of 16 session threads is a GIL hand-off that the readers pay for too.
            silent = self._clock.monotonic() - self._last_packet
            if silent > timeout_s:
                raise StreamTimeout(f"no packets for {silent:.0f} s")
            wait_s = min(max(timeout_s - silent, MIN_WATCH_S), timeout_s) + MIN_WATCH_S
            try:
                item = self._closed.get(timeout=wait_s)
            except queue.Empty:
                item = _WAKE
            if isinstance(item, _Closed):
                self._finish(item)
            if self._failure is not None:
                raise self._failure

    def _finish_closed(self) -> None:
        while True:
            try:
                item = self._closed.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Closed):
                self._finish(item)

    def _finish(self, closed: _Closed) -> None:
        segment = closed.writer.finish(closed.run_start_ms, closed.start_ms, closed.end_ms)
        self._segments += 1
        self._on_segment(segment)

    # -- reader thread ------------------------------------------------------------------------

    def _read(self, shared: SharedStream) -> None:
        pin_current_thread(self._settings.cpu)
        clock, stream, pending = self._clock, shared.stream, self._pending
        video = stream.video
        try:
            for packet in stream.packets():
                # On each wake-up only what cannot wait: when the packet arrived.
                mono = clock.monotonic()
                self._last_packet = mono
                pending.append((packet, clock.now(), mono))
                if (packet.is_keyframe and packet.stream is video) or (
                    mono - pending[0][2] >= MAX_HOLD_S
                ):
                    with self._lock:
                        if self._done:
                            return
                        self._handle_pending(stream)
            self._fail(StreamError("the camera closed the stream"))
        except Exception as exc:  # the session thread raises it
            self._fail(exc)
        finally:
            shared.release()

    def _handle_pending(self, stream: OpenedStream) -> None:
        """Handle the packets received so far, in order (lock held). A packet that fails loses
        the rest of its batch with it: the session ends on that failure."""
        pending = self._pending
        try:
            for packet, arrival, mono in pending:
                self._on_packet(packet, arrival, mono, stream)
        finally:
            pending.clear()

    def _handle_last(self, stream: OpenedStream) -> None:
        """The session is ending: write what arrived after the last keyframe too (lock held)."""
        try:
            self._handle_pending(stream)
        except RecorderError as exc:  # the session ends on its own failure, if any, not this
            log.warning("%s: the last packets were not written: %s", self.camera_id, exc)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._closed.put(_WAKE)

    def _on_packet(self, packet: Any, arrival: float, mono: float, stream: OpenedStream) -> None:
        # This runs for every packet of every camera: each PyAV attribute is read once.
        self._received += 1
        if self._writer is not None and not self._writable():
            # The circuit breaker opened: stop now, not at the end of the segment.
            self._close_segment()
            self._pause()
        self._window_bytes += packet.size
        pts, dts = packet.pts, packet.dts
        if packet.stream is self._video:
            self._on_video(packet, pts, dts, arrival, mono, stream)
        else:
            self._feed_tap(packet, stream, False, packet.is_keyframe, pts, dts, 0)
            writer = self._writer
            track = writer.audio_track if writer is not None else None
            if writer is not None and track is not None:
                self._count(writer.write(packet, track, pts, dts))
            else:
                self._skipped += 1
        if mono - self._window_start >= HEALTH_INTERVAL_S:
            self._roll_window(mono)

    def _on_video(
        self,
        packet: Any,
        pts: int | None,
        dts: int | None,
        arrival: float,
        mono: float,
        stream: OpenedStream,
    ) -> None:
        keyframe = packet.is_keyframe
        if keyframe:
            self._last_keyframe = mono
        elif mono - self._last_keyframe > self._settings.keyframe_timeout_s:
            raise StreamUnusable(
                f"no keyframe in {self._settings.keyframe_timeout_s:.0f} s: stream unusable"
            )
        ticks = pts if pts is not None else dts
        if ticks is None:  # PyAV's flush packets carry no time (the opener drops them already)
            self._skipped += 1
            return
        num, den = self._time_base
        pts_s = ticks * num / den  # the float nearest the exact time, like float(Fraction)
        self._window_frames += 1
        last_pts = self._last_video_pts
        if last_pts is not None and 0 < pts_s - last_pts < 1:
            self._frame_s = pts_s - last_pts
        timeline = self._timeline
        anchor_before = timeline.anchor  # the closing segment belongs to the old run
        broke = timeline.observe(pts_s, arrival)
        wall_ms = timeline.wall_ms(pts_s)
        if keyframe:
            ctx = stream.video.codec_context
            self.latest_keyframe = Keyframe(bytes(packet), ctx.name, ctx.extradata, wall_ms)
        self._feed_tap(packet, stream, True, keyframe, pts, dts, wall_ms)
        if broke is not Break.NONE:
            if broke is not Break.FIRST:
                log.info("%s: new run (%s)", self.camera_id, broke.value)
            self._close_segment(anchor_before)
            self._run_start_ms = None
        self._last_video_pts = pts_s
        writer = self._writer
        if keyframe and (
            writer is None or pts_s - self._seg_start_pts >= self._settings.segment_seconds
        ):
            self._seg_end_pts = pts_s  # the next segment starts where this one ends
            self._close_segment()
            writer = self._open_segment(pts_s, stream)
        if writer is None:
            self._skipped += 1
        else:
            self._count(writer.write(packet, writer.video_track, pts, dts))
            self._seg_end_pts = pts_s + self._frame_s
            if keyframe:
                writer.write_back()  # the muxer has just written out the previous fragment

    def _open_segment(self, pts_s: float, stream: OpenedStream) -> SegmentWriter | None:
        if not self._writable():
            self._pause()
            return None
        if self._paused:
            self._paused = False
            self._health.post_threadsafe(self.camera_id, state=CameraState.ONLINE, reason="")
        keyframe = self.latest_keyframe  # segments start at a keyframe: this one
        if not stream.info.width and self._size is None and keyframe is not None:
            self._size = picture_size(keyframe.codec, keyframe.extradata, keyframe.data)
            if self._size is not None:
                width, height = self._size
                self._health.post_threadsafe(self.camera_id, width=width, height=height)
        self._writer = SegmentWriter(
            self._layout,
            self.camera_id,
            stream.video,
            stream.audio,
            provisional_start_ms=max(self._timeline.wall_ms(pts_s), self._written_until_ms),
            run_base_s=self._timeline.run_start_pts,
            size=self._size,
        )
        self._seg_start_pts = pts_s
        return self._writer

    def _feed_tap(
        self,
        packet: Any,
        stream: OpenedStream,
        is_video: bool,
        keyframe: bool,
        pts: int | None,
        dts: int | None,
        wall_ms: int,
    ) -> None:
        """Give live view the packet, with its timestamps before the writer rebases them."""
        tap = self.tap
        if tap is None:
            return
        dts = dts if dts is not None else pts
        if dts is None:
            return
        try:
            # The packet itself, not a copy of its data: muxing takes a new reference to the
            # data and never changes it, so live view can read it while it keeps the packet.
            tap(
                LivePacket(
                    stream,
                    is_video,
                    keyframe,
                    packet,
                    pts if pts is not None else dts,
                    dts,
                    self._time_bases[0 if is_video else 1],
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
        """Settle the segment's times and queue it for the session thread (lock held)."""
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
        self._written_until_ms = end_ms
        self._closed.put(_Closed(writer, self._run_start_ms, start_ms, end_ms))

    def _roll_window(self, mono: float) -> None:
        elapsed = mono - self._window_start
        self._rates = (self._window_bytes * 8 / elapsed, self._window_frames / elapsed)
        self._window_bytes = 0
        self._window_frames = 0
        self._window_start = mono

    def _current_figures(self) -> dict[str, Any]:
        """Throughput and counts, for the health board (any thread; read without the lock, so
        a count may miss the packet being handled, never more)."""
        base = self._base_counts
        bitrate, fps = self._rates
        figures: dict[str, Any] = {
            "bitrate_bps": bitrate,
            "fps": fps,
            "segments_written": base[0] + self._segments,
            "packets_received": base[1] + self._received,
            "packets_written": base[2] + self._written,
            "packets_skipped": base[3] + self._skipped,
        }
        if self._received:
            silent_s = self._clock.monotonic() - self._last_packet
            figures["last_packet_ms"] = round((self._clock.now() - silent_s) * 1000)
        return figures
