"""One connection to one camera: read packets, cut them into segments, until told to stop.

Two threads per session. The reader thread blocks in PyAV's demuxer. As each packet arrives it
only notes the arrival time; at each video keyframe (with audio: at the first audio packet after
it) it handles the GOP that ends there in one go (or what came in the last `MAX_HOLD_S`, if the
GOP is longer): the `Segmenter` places each video
packet on the wall clock and says where runs break and segments are cut, and the reader muxes
the packets into the segment's `.partial` file and gives them to live view (`LiveTap`). The
session thread makes each closed segment durable (fsync, rename, fsync the directory) and
hands it over, in order, and watches: a camera that stops sending leaves the
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

Read as one loop: packet -> `SessionFigures` (counts) -> `Segmenter` (skip, write or cut) ->
`LiveTap` -> `SegmentWriter`; closed segments -> session thread -> `on_segment`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder.capture.affinity import pin_current_thread
from recorder.capture.figures import SessionFigures
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.keyframe import picture_size
from recorder.capture.opener import OpenedStream, StreamOpener
from recorder.capture.reader import PacketReader as PacketReader  # motion reads with it
from recorder.capture.reader import SharedStream
from recorder.capture.segment_writer import SegmentWriter
from recorder.capture.segmenter import Action, Break, Segmenter, SegmenterSettings, SegmentTimes
from recorder.capture.tap import Keyframe as Keyframe  # snapshots name it from here
from recorder.capture.tap import LivePacket, LiveTap
from recorder.clock import Clock
from recorder.errors import RecorderError, StreamError, StreamTimeout, StreamUnusable
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)

MIN_WATCH_S = 0.05  # the session thread's shortest sleep while it waits for silence
MAX_HOLD_S = 1.0  # packets wait this long at most for their keyframe: a long GOP still moves on
KEYLESS_RESTART_S = 1.0  # a silence this long restarts the wait for a keyframe
_WAKE = object()  # queued to wake the session thread: stop, or the reader failed


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
    times: SegmentTimes


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
        self._feed = tap
        self._stop = threading.Event()
        self._tap: LiveTap | None = None  # once connected
        self.figures = SessionFigures(clock, health.get(camera_id))
        self.delivered = False  # a keyframe was recorded: the camera works (see worker.py)
        # The segment in flight and everything the reader thread updates per packet are guarded
        # by `_lock`; once `_done` is set (under the lock), the reader touches nothing more.
        self._lock = threading.Lock()
        self._done = False
        self._failure: BaseException | None = None  # why the reader stopped
        self._closed: queue.SimpleQueue[object] = queue.SimpleQueue()  # _Closed, or _WAKE
        # (packet, arrival wall time, arrival monotonic time) not handled yet: appended by the
        # reader alone, handled and emptied under the lock by whichever thread holds it.
        self._pending: list[tuple[Any, float, float]] = []
        self._segmenter: Segmenter | None = None  # once connected
        self._writer: SegmentWriter | None = None
        # The segment just cut, kept open for the audio that belongs before the cut (its PTS
        # is below the new segment's start, but it arrives after the keyframe).
        self._draining: _Closed | None = None
        self._cut_s = 0.0  # where the segment in flight starts to be shown (PTS, seconds)
        self._video: Any = None  # the stream's video stream: tells video packets from audio
        self._audio_tick_s = 0.0
        self._audio_shift = 0  # audio ticks moved back with the video's absorbed re-bases
        self._size: tuple[int, int] | None = None  # when the probe found none: from a keyframe
        self._paused = False
        self._keyless_since: float | None = None  # first video packet since the last keyframe
        self._previous = 0.0  # monotonic arrival of the packet handled before

    @property
    def latest_keyframe(self) -> Keyframe | None:
        tap = self._tap
        return tap.latest_keyframe if tap is not None else None

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
        self._video = stream.video
        base = stream.video.time_base
        settings = self._settings
        self._segmenter = Segmenter(
            (base.numerator, base.denominator),
            SegmenterSettings(settings.segment_seconds, settings.max_gap_s, settings.max_drift_s),
            frame_s=1 / info.fps if info.fps else 1 / 15,
            reorder=info.reorder,
        )
        if stream.audio is not None:
            self._audio_tick_s = float(stream.audio.time_base)
        self._tap = LiveTap(self.camera_id, stream, self._feed)
        self.figures.last_packet = self._clock.monotonic()
        reader = threading.Thread(
            target=self._read, args=(shared,), name=f"read-{self.camera_id}", daemon=True
        )
        # Connected, not online: a camera is online once its video is recorded.
        self._health.post_threadsafe(
            self.camera_id,
            width=info.width,
            height=info.height,
            video_codec=info.video_codec,
            has_audio=info.audio_codec is not None,
        )
        self._health.track_threadsafe(self.camera_id, self.figures)
        reader.start()
        try:
            self._watch()
        finally:
            with self._lock:
                self._done = True
                self._handle_last(stream)
                self._end_segment()
            shared.release()
            self._finish_closed()
            self._health.untrack_threadsafe(self.camera_id, self.figures)

    # -- session thread -----------------------------------------------------------------------

    def _watch(self) -> None:
        """Finish closed segments in order until stopped; raise why the reader stopped, or a
        silence longer than the read timeout."""
        timeout_s = self._settings.read_timeout_s
        while not self._stop.is_set():
            # Sleep until the silence would reach the read timeout, not a fixed tick: every
            # wake-up of 16 session threads is a GIL hand-off that the readers pay for too.
            silent = self._clock.monotonic() - self.figures.last_packet
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
        times = closed.times
        segment = closed.writer.finish(times.run_start_ms, times.start_ms, times.end_ms)
        self.figures.segments += 1
        self._on_segment(segment)

    # -- reader thread ------------------------------------------------------------------------

    def _read(self, shared: SharedStream) -> None:
        pin_current_thread(self._settings.cpu)
        clock, stream, pending, figures = self._clock, shared.stream, self._pending, self.figures
        video = stream.video
        # FFmpeg's interleaving muxer holds a packet until every other track has one after it,
        # and the fragment a keyframe closes reaches the file only once that keyframe is written.
        # With audio, the GOP is therefore handed over at the first audio packet after its
        # keyframe: handed over at the keyframe itself, the fragment would wait a whole GOP for
        # the next batch's audio, and a crash would lose it too.
        with_audio = stream.audio is not None
        keyframe_in = False
        try:
            for packet in stream.packets():
                # On each wake-up only what cannot wait: when the packet arrived.
                mono = clock.monotonic()
                figures.last_packet = mono
                pending.append((packet, clock.now(), mono))
                if packet.stream is video:
                    keyframe_in = keyframe_in or packet.is_keyframe
                    ready = keyframe_in and not with_audio
                else:
                    ready = keyframe_in
                if ready or mono - pending[0][2] >= MAX_HOLD_S:
                    keyframe_in = False
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
        segmenter, video = self._segmenter, self._video
        assert segmenter is not None
        # The segmenter sees the batch's video timestamps first: a clock re-based mid-GOP is
        # measured by the frames after the step (capture/rebase.py).
        segmenter.look_ahead([(p.pts, p.is_keyframe) for p, _, _ in pending if p.stream is video])
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

    # -- one packet (reader thread, or the session thread at the end; lock held) ---------------

    def _on_packet(self, packet: Any, arrival: float, mono: float, stream: OpenedStream) -> None:
        # This runs for every packet of every camera: each PyAV attribute is read once.
        is_video = packet.stream is self._video
        self.figures.packet(packet.size, is_video, mono)
        if self._writer is not None and not self._writable():
            # The circuit breaker opened: stop now, not at the end of the segment.
            self._end_segment()
            self._pause()
        if is_video:
            self._on_video(packet, arrival, mono, stream)
        else:
            self._on_audio(packet)
        self._previous = mono

    def _on_audio(self, packet: Any) -> None:
        pts, dts = packet.pts, packet.dts
        shift = self._audio_shift
        if shift:  # the video's clock re-bases were absorbed: the audio follows (rebase.py)
            pts = pts - shift if pts is not None else None
            dts = dts - shift if dts is not None else None
        tap = self._tap
        assert tap is not None
        tap.packet(packet, False, packet.is_keyframe, pts, dts, 0)
        draining = self._draining
        if draining is not None:
            ticks = pts if pts is not None else dts
            if ticks is not None and ticks * self._audio_tick_s < self._cut_s:
                self._write_audio(draining.writer, packet, pts, dts)
                return
            self._release_draining()  # audio has passed the cut: the segment is complete
        writer = self._writer
        track = writer.audio_track if writer is not None else None
        if writer is not None and track is not None:
            self.figures.count(writer.write(packet, track, pts, dts))
        else:
            self.figures.skipped += 1

    def _write_audio(self, writer: SegmentWriter, packet: Any, pts: Any, dts: Any) -> None:
        track = writer.audio_track
        if track is None:
            self.figures.skipped += 1
        else:
            self.figures.count(writer.write(packet, track, pts, dts))

    def _on_video(self, packet: Any, arrival: float, mono: float, stream: OpenedStream) -> None:
        keyframe = packet.is_keyframe
        if keyframe:
            self._keyless_since = None
        else:
            self._check_keyframes(mono)
        segmenter = self._segmenter
        assert segmenter is not None and self._tap is not None
        rebases = segmenter.rebases
        placed = segmenter.video(packet.dts, packet.pts, keyframe, arrival)
        if segmenter.rebases != rebases:
            offset_s = segmenter.offset_s
            self._audio_shift = round(offset_s / self._audio_tick_s) if self._audio_tick_s else 0
            log.info(
                "%s: the camera's clock was re-based mid-GOP: absorbed (video %+.1f ms in all)",
                self.camera_id, -offset_s * 1000,
            )  # fmt: skip
        if keyframe:
            self._tap.keyframe(packet, placed.wall_ms)
        self._tap.packet(packet, True, keyframe, placed.pts, placed.dts, placed.wall_ms)
        action = placed.action
        if placed.brk is not Break.NONE and placed.brk is not Break.FIRST:
            log.info("%s: new run (%s)", self.camera_id, placed.brk.value)
        if placed.closed is not None:
            self._close_writer(placed.closed, keep_for_audio=action is Action.CUT)
        writer = self._writer
        if action is Action.CUT:
            writer = self._open_segment(placed.pts, stream)
        if action is Action.SKIP or writer is None:
            self.figures.skipped += 1
            return
        written = writer.write(packet, writer.video_track, placed.pts, placed.dts)
        self.figures.count(written)
        if keyframe:
            if written and not self.delivered:
                self._went_online()
            writer.write_back()  # the muxer has just written out the previous fragment

    def _check_keyframes(self, mono: float) -> None:
        """A packet that is not a keyframe: packets flowing this long with no keyframe mean the
        stream cannot be recorded. The wait starts at the first packet (not at connect), and
        again after a silence."""
        since = self._keyless_since
        if since is None or mono - self._previous > KEYLESS_RESTART_S:
            self._keyless_since = mono
        elif mono - since > self._settings.keyframe_timeout_s:
            raise StreamUnusable(
                f"no keyframe in {self._settings.keyframe_timeout_s:.0f} s: stream unusable"
            )

    def _went_online(self) -> None:
        self.delivered = True
        now_ms = round(self._clock.now() * 1000)
        self._health.post_threadsafe(
            self.camera_id, state=CameraState.ONLINE, reason="", since_ms=now_ms
        )

    def _open_segment(self, cut_pts: int, stream: OpenedStream) -> SegmentWriter | None:
        segmenter = self._segmenter
        assert segmenter is not None
        if not self._writable():
            segmenter.drop()
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
        if not stream.info.width and self._size is None:
            # Nothing decodes without one (no SPS): garbage, or not the codec it claims.
            raise StreamUnusable("the video has no picture size: the stream does not decode")
        base = stream.video.time_base
        self._cut_s = float(cut_pts * base)
        assert segmenter.run_zero_dts is not None, "a cut starts the run's timeline"
        self._writer = SegmentWriter(
            self._layout,
            self.camera_id,
            stream.video,
            stream.audio,
            provisional_start_ms=segmenter.start_ms(),
            zero_s=float(segmenter.run_zero_dts * base),
            size=self._size,
        )
        return self._writer

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._health.post_threadsafe(
                self.camera_id, state=CameraState.PAUSED, reason="storage full: not recording"
            )

    def _close_writer(self, times: SegmentTimes, keep_for_audio: bool) -> None:
        """The segmenter closed the segment in flight at `times`: queue it for the session
        thread, or keep it open for its last audio while the next one starts (lock held)."""
        self._release_draining()
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if writer.packets == 0:
            writer.abort()
            return
        closed = _Closed(writer, times)
        if keep_for_audio and writer.audio_track is not None:
            self._draining = closed
        else:
            self._closed.put(closed)

    def _release_draining(self) -> None:
        draining, self._draining = self._draining, None
        if draining is not None:
            self._closed.put(draining)

    def _end_segment(self) -> None:
        """Close the segment in flight now: the session ends, or storage is full (lock held)."""
        segmenter = self._segmenter
        times = segmenter.close() if segmenter is not None else None
        if times is not None:
            self._close_writer(times, keep_for_audio=False)
        else:
            self._release_draining()
