"""What capture hands to live view and snapshots as packets go by: the live tap and the newest
keyframe. Neither may ever stop recording, so the tap swallows (and logs) live view's failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

log = logging.getLogger(__name__)


class LivePacket(NamedTuple):
    """One demuxed packet as capture hands it to live view (a tuple: built for every packet of
    every camera, so it must be cheap to make)."""

    source: Any  # the OpenedStream it came from: its streams are the muxer's templates
    is_video: bool
    keyframe: bool
    data: Any  # bytes, or anything exposing them (the demuxed av.Packet: no copy)
    pts: int
    dts: int
    time_base: Fraction
    wall_ms: int


@dataclass(frozen=True)
class Keyframe:
    """The newest keyframe of a live session: enough to decode one picture (snapshots)."""

    data: bytes
    codec: str
    extradata: bytes | None
    wall_ms: int


class LiveTap:
    """Gives live view each packet with the timestamps capture placed it at (before the
    segment writer rebases them), and keeps the newest keyframe."""

    def __init__(
        self, camera_id: str, stream: Any, feed: Callable[[LivePacket], None] | None
    ) -> None:
        self._camera_id = camera_id
        self._stream = stream  # the OpenedStream: its streams are live view's templates
        self.feed = feed
        # A packet's own `time_base` builds a new Fraction at each read: read the streams' once.
        audio = stream.audio
        video_base = stream.video.time_base
        self._time_bases = (video_base, audio.time_base if audio else video_base)
        self.latest_keyframe: Keyframe | None = None  # replaced whole, so safe to read anywhere

    def keyframe(self, packet: Any, wall_ms: int) -> None:
        ctx = self._stream.video.codec_context
        self.latest_keyframe = Keyframe(bytes(packet), ctx.name, ctx.extradata, wall_ms)

    def packet(
        self, packet: Any, is_video: bool, keyframe: bool, pts: int | None, dts: int | None,
        wall_ms: int,
    ) -> None:  # fmt: skip
        feed = self.feed
        if feed is None:
            return
        dts = dts if dts is not None else pts
        if dts is None:
            return
        try:
            # The packet itself, not a copy of its data: muxing takes a new reference to the
            # data and never changes it, so live view can read it while it keeps the packet.
            feed(
                LivePacket(
                    self._stream,
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
            log.exception("%s: live view failed on a packet", self._camera_id)
