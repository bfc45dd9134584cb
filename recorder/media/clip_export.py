"""Exporting a time range of recordings as one MP4, by remuxing (no transcoding).

Packets are read from the segment files in order and placed on one timeline by wall-clock time
(so a gap in the recording stays a gap). The clip starts at the keyframe at or before the
requested start (a keyframe cut, the default). An exact cut also starts decoding there but moves
time zero to the requested instant: the frames before it get negative times, which the MP4
muxer hides with an edit list, so players show exactly [start, end) without re-encoding. The
file has its index at the front (`faststart`) so browsers can play it while downloading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from recorder.av_errors import CAUGHT, translate
from recorder.errors import NotFound, SegmentError
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment

OPTIONS = {"movflags": "+faststart", "avoid_negative_ts": "disabled"}
# Our segments describe themselves in their moov: probing them is wasted time (~18 ms each).
NO_PROBE = {"probesize": "32", "analyzeduration": "0"}


@dataclass(frozen=True)
class ClipResult:
    bytes: int
    duration_ms: int
    first_ms: int  # wall time of the first frame shown
    packets: int


def _first_keyframe_at_or_before(segment: Segment, t_ms: int) -> int:
    """Wall time of the segment's last keyframe at or before t_ms (or its start)."""
    best = segment.start_ms
    for keyframe in segment.keyframes:
        at = segment.start_ms + keyframe.offset_ms
        if at > t_ms:
            break
        best = at
    return best


def export_clip(
    segments: Sequence[Segment],
    layout: SegmentLayout,
    start_ms: int,
    end_ms: int,
    out_path: Path,
    *,
    exact: bool = False,
    progress: Callable[[float], None] = lambda _fraction: None,
) -> ClipResult:
    """Write [start_ms, end_ms) of `segments` (oldest first, overlapping the range) to
    `out_path`. Blocking: run it in a thread."""
    if not segments:
        raise NotFound("no recordings in that range")
    begin_ms = max(_first_keyframe_at_or_before(segments[0], start_ms), segments[0].start_ms)
    origin_ms = start_ms if exact and start_ms > begin_ms else begin_ms
    packets = 0
    try:
        with av.open(str(out_path), "w", format="mp4", options=OPTIONS) as out:
            tracks: dict[str, Any] = {}
            last: dict[str, int] = {}
            for number, segment in enumerate(segments, start=1):
                path = layout.absolute(segment.path)
                window = (begin_ms, end_ms, origin_ms)
                with av.open(str(path), "r", options=NO_PROBE) as source:
                    packets += _copy(source, segment, out, tracks, last, window)
                progress(number / len(segments))
    except CAUGHT as exc:
        out_path.unlink(missing_ok=True)
        raise translate(exc, "cannot export the clip", SegmentError) from exc
    if packets == 0:
        out_path.unlink(missing_ok=True)
        raise NotFound("no video in that range")
    last_ms = min(end_ms, segments[-1].end_ms)
    return ClipResult(
        out_path.stat().st_size, last_ms - max(origin_ms, start_ms), origin_ms, packets
    )


def _copy(
    source: Any,
    segment: Segment,
    out: Any,
    tracks: dict[str, Any],
    last: dict[str, int],
    window: tuple[int, int, int],
) -> int:
    begin_ms, end_ms, origin_ms = window
    video = source.streams.video[0]
    wanted = [video, *source.streams.audio[:1]]
    if "video" not in tracks:
        tracks["video"] = out.add_stream_from_template(video)
        if len(wanted) > 1:
            tracks["audio"] = out.add_stream_from_template(wanted[1])
    zero: float | None = None  # media time (s) of the segment's first video packet
    copied = 0
    for packet in source.demux(wanted):
        if packet.dts is None:
            continue
        kind = "video" if packet.stream is video else "audio"
        if kind not in tracks:
            continue
        seconds = float(packet.pts * packet.time_base)
        if zero is None:
            if kind != "video":
                continue  # audio ahead of the first frame: nothing to align it with yet
            zero = seconds
        wall_ms = segment.start_ms + (seconds - zero) * 1000
        # The index keeps keyframe times in whole ms: a keyframe may compute a hair before
        # `begin_ms`. The clip's video starts at a keyframe whatever the rounding.
        if wall_ms < begin_ms - 1 or wall_ms >= end_ms:
            continue
        if kind == "video" and "video" not in last and not packet.is_keyframe:
            continue
        if kind == "audio" and "video" not in last:
            continue  # sound from before the first frame shown
        out_ticks = round((wall_ms - origin_ms) / 1000 / packet.time_base)
        shift = out_ticks - packet.pts
        dts = packet.dts + shift
        if dts <= last.get(kind, -(2**62)):
            continue
        packet.pts, packet.dts = out_ticks, dts
        packet.stream = tracks[kind]
        out.mux(packet)
        last[kind] = dts
        copied += kind == "video"
    return copied
