"""Live HLS of one camera, in memory, without transcoding.

The capture session hands every packet to `LiveStream.feed` in its reader thread (the demuxed
packet itself: its data is shared with the segment's muxer, never copied or changed). Packets
are grouped by GOP (1 s on our cameras); each complete GOP becomes one HLS media segment by
muxing it alone into an fMP4: the file's init section (ftyp+moov, the same for every GOP of a
connection) is served as `EXT-X-MAP`, its fragment (moof+mdat) as the segment. Muxing one GOP at
a time, when it is complete, costs a millisecond or two per second of video, and only while
someone watches.

The previous GOP is always kept (about a second of packets), so the first viewer gets
a segment at once instead of waiting up to two GOPs. The stream stops 30 s after the last
request (`stop_if_idle`), freeing its segments.
"""

from __future__ import annotations

import io
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import av

from recorder.av_errors import CAUGHT
from recorder.capture.tap import LivePacket as LivePacket  # what capture hands over
from recorder.clock import Clock

KEEP_SEGMENTS = 8
IDLE_STOP_S = 30.0
MUXER_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof+frag_discont",
    "avoid_negative_ts": "disabled",
}


@dataclass(frozen=True)
class LiveSegment:
    sequence: int
    init_id: int
    data: bytes
    duration_s: float
    wall_ms: int
    discontinuity: bool  # a new connection or codec: the player must reset its timeline


def _split_init(data: bytes) -> tuple[bytes, bytes]:
    """(ftyp+moov, moof+mdat...) by walking top-level boxes."""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4 : offset + 8] == b"moof":
            return data[:offset], data[offset:]
        if size < 8:
            break
        offset += size
    raise ValueError("no fragment in the muxed GOP")


def mux_gop(packets: list[LivePacket], base: dict[int, int]) -> tuple[bytes, bytes]:
    """Mux one GOP into an fMP4 and split it into (init, fragment). `base` maps id(template
    stream) to the tick that is time 0, so fragment decode times continue across GOPs."""
    source = packets[0].source
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4", options=MUXER_OPTIONS) as out:
        video = out.add_stream_from_template(source.video)
        audio = out.add_stream_from_template(source.audio) if source.audio else None
        last: dict[bool, int] = {}
        for item in packets:
            stream = video if item.is_video else audio
            template = source.video if item.is_video else source.audio
            if stream is None:
                continue
            zero = base.setdefault(id(template), item.dts)
            dts = item.dts - zero
            if dts < 0 or dts <= last.get(item.is_video, -1):
                continue
            packet = av.Packet(item.data)
            packet.dts, packet.pts = dts, item.pts - zero
            packet.time_base = item.time_base
            packet.is_keyframe = item.keyframe
            packet.stream = stream
            out.mux(packet)
            last[item.is_video] = dts
    return _split_init(buffer.getvalue())


class LiveStream:
    def __init__(
        self, camera_id: str, clock: Clock, on_start: Callable[[], None] = lambda: None
    ) -> None:
        self.camera_id = camera_id
        self._clock = clock
        self._on_start = on_start  # called on the event loop when a viewer starts the stream
        self._lock = threading.Lock()
        self._gop: list[LivePacket] = []
        self._previous: list[LivePacket] = []
        self._segments: deque[LiveSegment] = deque(maxlen=KEEP_SEGMENTS)
        self._inits: dict[int, bytes] = {}
        self._source: Any = None
        self._base: dict[int, int] = {}
        self._init_id = 0
        self._sequence = 0
        self._discontinuities = 0  # dropped off the front of the playlist
        self._pending_discontinuity = False
        self.active = False
        self.last_request = 0.0
        self.errors = 0

    # -- capture thread ----------------------------------------------------------------------

    def feed(self, packet: LivePacket) -> None:
        if packet.source is not self._source:
            with self._lock:
                self._source = packet.source
                self._base = {}
                self._gop, self._previous = [], []
                self._init_id += 1
                self._pending_discontinuity = self._sequence > 0
        if packet.is_video and packet.keyframe:
            done, self._gop = self._gop, [packet]
            if done:
                with self._lock:
                    self._previous = done
                    if self.active:
                        self._publish(done)
        elif self._gop:
            self._gop.append(packet)

    def _publish(self, gop: list[LivePacket]) -> None:
        """Mux a complete GOP into a segment (caller holds the lock)."""
        try:
            init, fragment = mux_gop(gop, self._base)
        except CAUGHT:  # recorder/av_errors.py: what PyAV raises on data it cannot mux
            self.errors += 1  # one bad GOP costs one segment, not the stream
            return
        self._inits.setdefault(self._init_id, init)
        videos = [p for p in gop if p.is_video]
        duration = float((videos[-1].pts - videos[0].pts) * videos[0].time_base)
        duration += duration / max(len(videos) - 1, 1)  # the last frame lasts one frame too
        if len(self._segments) == self._segments.maxlen and self._segments[0].discontinuity:
            self._discontinuities += 1
        self._segments.append(
            LiveSegment(
                self._sequence,
                self._init_id,
                fragment,
                duration,
                videos[0].wall_ms,
                self._pending_discontinuity,
            )
        )
        self._pending_discontinuity = False
        self._sequence += 1
        live_ids = {s.init_id for s in self._segments}
        for stale in [i for i in self._inits if i not in live_ids]:
            del self._inits[stale]

    # -- event loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """A viewer arrived: publish from now on, starting with the last complete GOP."""
        self.last_request = self._clock.monotonic()
        with self._lock:
            if self.active:
                return
            self.active = True
            if self._previous:
                self._publish(self._previous)
        self._on_start()

    def stop_if_idle(self, idle_s: float = IDLE_STOP_S) -> bool:
        if self.active and self._clock.monotonic() - self.last_request > idle_s:
            with self._lock:
                self.active = False
                self._segments.clear()
                self._inits.clear()
            return True
        return False

    def has_segments(self) -> bool:
        return bool(self._segments)

    def init(self, init_id: int) -> bytes | None:
        self.last_request = self._clock.monotonic()
        with self._lock:
            return self._inits.get(init_id)

    def segment(self, sequence: int) -> bytes | None:
        self.last_request = self._clock.monotonic()
        with self._lock:
            for segment in self._segments:
                if segment.sequence == sequence:
                    return segment.data
        return None

    def playlist(self, suffix: str = "") -> str:
        with self._lock:
            segments = list(self._segments)
            discontinuities = self._discontinuities
        target = max((math.ceil(s.duration_s) for s in segments), default=1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{target}",
            f"#EXT-X-MEDIA-SEQUENCE:{segments[0].sequence if segments else 0}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        init_id = None
        for segment in segments:
            if segment.discontinuity and init_id is not None:
                lines.append("#EXT-X-DISCONTINUITY")
            if segment.init_id != init_id:
                lines.append(f'#EXT-X-MAP:URI="live/init-{segment.init_id}.mp4{suffix}"')
                init_id = segment.init_id
            when = datetime.fromtimestamp(segment.wall_ms / 1000, tz=UTC)
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{when.isoformat(timespec='milliseconds')}")
            lines.append(f"#EXTINF:{segment.duration_s:.3f},")
            lines.append(f"live/{segment.sequence}.m4s{suffix}")
        return "\n".join(lines) + "\n"
