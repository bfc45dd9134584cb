"""Live frames of one camera stream, shared by every viewer watching it over a WebSocket.

A `LiveFeed` reads one stream (a camera's main or sub URL) in a thread of its own, through the
same `StreamOpener` capture uses, and turns each video packet into a one-frame fMP4 fragment
(media/frame_fragments.py) as soon as it is demuxed. Capture's own tap is not used: capture
hands packets on a GOP at a time (up to `MAX_HOLD_S`), which would make latency depend on the
camera's GOP, and grid tiles want the substream, which capture does not record. The cost is one
more RTSP connection per watched stream, only while someone watches (and `LINGER_S` after).

Each viewer has a short queue. A viewer that cannot keep up (its oldest queued frame waited
longer than `MAX_QUEUE_DELAY_S`) loses its queue and resumes at the next keyframe: a slow
client skips ahead instead of growing a buffer on the recorder. A new viewer gets the current
init section and the frames since the last keyframe at once, so its first picture does not wait
for the next keyframe.

Messages to viewers: `LiveMessage`s with a kind (init, fragment, status). The binary layout sent
on the socket is in api/routes/live_ws.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from recorder.capture.opener import StreamOpener
from recorder.clock import Clock
from recorder.errors import StreamError
from recorder.media.frame_fragments import FrameFragmenter, InitSection, make_init

log = logging.getLogger(__name__)

LINGER_S = 10.0  # a feed with no viewers keeps its connection this long (tile switches, reloads)
MAX_QUEUE_DELAY_S = 0.5  # a viewer further behind than this skips to the next keyframe
RETRY_S = (0.5, 1.0, 2.0, 5.0)  # reconnection back-off


class Kind(IntEnum):
    INIT = 0
    FRAGMENT = 1
    STATUS = 2


@dataclass(frozen=True)
class LiveMessage:
    kind: Kind
    data: bytes = b""
    keyframe: bool = False
    wall_ms: float = 0.0  # when the frame arrived from the camera (recorder's clock)
    media_s: float = 0.0  # its decode time on the feed's timeline
    codec: str = ""  # INIT: the RFC 6381 codec string
    state: str = ""  # STATUS: connecting, online, lost
    reason: str = ""


class LiveViewer:
    """One WebSocket's queue (event loop only)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queue: deque[tuple[float, LiveMessage]] = deque()
        self._ready = asyncio.Event()
        self._waiting_keyframe = True
        self.skipped = 0  # frames dropped because this viewer was behind

    def offer(self, message: LiveMessage) -> None:
        now = self._clock.monotonic()
        if message.kind is Kind.INIT:
            self._drop_fragments()
            self._waiting_keyframe = True
        elif message.kind is Kind.FRAGMENT:
            if self._queue and now - self._oldest_fragment_time(now) > MAX_QUEUE_DELAY_S:
                self.skipped += self._drop_fragments()
                self._waiting_keyframe = True
            if self._waiting_keyframe and not message.keyframe:
                self.skipped += 1
                return
            self._waiting_keyframe = False
        self._queue.append((now, message))
        self._ready.set()

    def _oldest_fragment_time(self, now: float) -> float:
        for queued_at, message in self._queue:
            if message.kind is Kind.FRAGMENT:
                return queued_at
        return now

    def _drop_fragments(self) -> int:
        kept = [(t, m) for t, m in self._queue if m.kind is not Kind.FRAGMENT]
        dropped = len(self._queue) - len(kept)
        self._queue = deque(kept)
        return dropped

    async def next(self) -> LiveMessage:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()[1]

    @property
    def queued(self) -> int:
        return len(self._queue)


class LiveFeed:
    """One stream, read while anyone watches. Viewers are added and removed on the loop."""

    def __init__(self, key: str, url: str, opener: StreamOpener, clock: Clock) -> None:
        self.key = key
        self._url = url
        self._opener = opener
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self.viewers: set[LiveViewer] = set()
        self._last_watched = (
            self._clock.monotonic()
        )  # read by the thread: when the last viewer left
        self._stop = threading.Event()
        self._init: LiveMessage | None = None
        self._gop: list[LiveMessage] = []  # frames since the last keyframe, for new viewers
        self._status = LiveMessage(Kind.STATUS, state="connecting")
        self._thread = self._start_thread()

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=f"live-{self.key}", daemon=True)
        thread.start()
        return thread

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def add(self, viewer: LiveViewer) -> None:
        self.viewers.add(viewer)
        viewer.offer(self._status)
        if self._init is not None:
            viewer.offer(self._init)
            for message in self._gop:
                viewer.offer(message)

    def remove(self, viewer: LiveViewer) -> None:
        self.viewers.discard(viewer)
        self._last_watched = self._clock.monotonic()

    def stop(self) -> None:
        self._stop.set()

    # -- event loop ---------------------------------------------------------------------------

    def _deliver(self, message: LiveMessage) -> None:
        if message.kind is Kind.INIT:
            self._init, self._gop = message, []
        elif message.kind is Kind.FRAGMENT:
            if message.keyframe:
                self._gop = []
            self._gop.append(message)
        else:
            self._status = message
            if message.state != "online":
                self._init, self._gop = None, []
        for viewer in list(self.viewers):
            viewer.offer(message)

    # -- reader thread ------------------------------------------------------------------------

    def _idle(self) -> bool:
        return not self.viewers and self._clock.monotonic() - self._last_watched > LINGER_S

    def _post(self, message: LiveMessage) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, message)
        except RuntimeError:  # the loop is closed: the recorder is stopping
            self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set() and not self._idle():
            try:
                self._read_once()
                reason = "the camera closed the stream"
            except StreamError as exc:
                reason = str(exc)
            except Exception as exc:  # a live feed must never take the recorder down
                log.exception("live %s failed", self.key)
                reason = f"live view failed: {exc}"
            if self._stop.is_set() or self._idle():
                break
            self._post(LiveMessage(Kind.STATUS, state="lost", reason=reason))
            self._stop.wait(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1
            self._post(LiveMessage(Kind.STATUS, state="connecting"))
        log.debug("live %s stopped", self.key)
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._ended)

    def _ended(self) -> None:
        """The thread gave up for want of viewers; one may have arrived in the meantime."""
        if self.viewers and not self._stop.is_set() and not self._thread.is_alive():
            self._last_watched = self._clock.monotonic()
            self._thread = self._start_thread()

    def _read_once(self) -> None:
        stream = self._opener.open(self._url)
        try:
            video = stream.video
            fps = stream.info.fps or 15.0
            fragmenter: FrameFragmenter | None = None
            for packet in stream.packets():
                if self._stop.is_set() or self._idle():
                    return
                if packet.stream is not video:
                    continue
                wall_ms = self._clock.now() * 1000
                fragmenter = self._on_packet(packet, video, fps, fragmenter, wall_ms)
        finally:
            stream.close()

    def _on_packet(
        self, packet: Any, video: Any, fps: float, fragmenter: FrameFragmenter | None, wall: float
    ) -> FrameFragmenter | None:
        keyframe = bool(packet.is_keyframe)
        dts = packet.dts if packet.dts is not None else packet.pts
        pts = packet.pts if packet.pts is not None else dts
        if dts is None:
            return fragmenter
        data = bytes(packet)
        if fragmenter is None:
            if not keyframe:
                return None  # a connection's first frame must be a keyframe
            init = make_init(video, data, pts, packet.time_base)
            fragmenter = FrameFragmenter(init, packet.time_base, 1 / fps)
            self._post(_init_message(init))
            self._post(LiveMessage(Kind.STATUS, state="online"))
        fragment = fragmenter.fragment(data, pts, dts, keyframe)
        if fragment is not None:
            media_s = fragmenter.media_seconds(dts)
            self._post(LiveMessage(Kind.FRAGMENT, fragment, keyframe, wall, media_s))
        return fragmenter


def _init_message(init: InitSection) -> LiveMessage:
    return LiveMessage(Kind.INIT, init.data, codec=init.codec)


class LiveFeeds:
    """The running feeds, by camera and stream; a feed ends `LINGER_S` after its last viewer."""

    def __init__(self, opener: StreamOpener, clock: Clock) -> None:
        self._opener = opener
        self._clock = clock
        self._feeds: dict[str, LiveFeed] = {}

    def watch(self, camera_id: str, which: str, url: str, viewer: LiveViewer) -> LiveFeed:
        # The URL is part of the key (never shown): an edited camera gets a new feed at once.
        key = f"{camera_id}/{which}/{hash(url)}"
        feed = self._feeds.get(key)
        if feed is None or not feed.running:
            feed = LiveFeed(f"{camera_id}/{which}", url, self._opener, self._clock)
            self._feeds[key] = feed
        feed.add(viewer)
        for stale in [k for k, f in self._feeds.items() if not f.running]:
            del self._feeds[stale]
        return feed

    def stop_all(self) -> None:
        for feed in self._feeds.values():
            feed.stop()
        self._feeds.clear()

    def running(self) -> list[str]:
        return sorted(f.key for f in self._feeds.values() if f.running)
