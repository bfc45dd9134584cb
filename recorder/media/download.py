"""A segment as a user downloads it: a standalone MP4 that starts at 0.

Segment files keep their run's timeline, so that a player chains the segments of a run
without a seam (docs/design/segments.md); a file copied as it is would open with a blank
lead-in as long as its offset in the run. The download is the same packets remuxed (no
transcoding, ~10 ms for 10 s) into a plain MP4 whose first frame is shown at 0: its timestamps
move back by the first frame's, and the muxer's edit list hides the B-frames' decode delay
(frames decoded before time 0), so every player and editor starts at 0. Index at the front
(`faststart`): a browser plays it while it downloads.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.stream

from recorder.av_errors import av_errors
from recorder.errors import SegmentError

OPTIONS = {"movflags": "+faststart", "avoid_negative_ts": "disabled"}
NO_PROBE = {"probesize": "32", "analyzeduration": "0"}  # our files describe themselves


def download_copy(path: Path, out_path: Path) -> None:
    """Write the segment file at `path` to `out_path` as an MP4 that starts at 0 (a file: the
    index moves to the front in a second pass). Blocking: run it in a thread."""
    try:
        _copy(path, out_path)
    except SegmentError:
        out_path.unlink(missing_ok=True)
        raise


def _copy(path: Path, out_path: Path) -> None:
    with av_errors(f"cannot copy {path.name} for download", SegmentError):
        with av.open(str(path), "r", options=NO_PROBE) as source:
            video = source.streams.video[0]
            # Decode order starts with the keyframe, shown first: its PTS is time 0.
            first = next((p for p in source.demux(video) if p.pts is not None), None)
            if first is None or first.pts is None:
                raise SegmentError(f"{path.name} holds no video")
            zero_s = float(first.pts * _time_base(video))
        with (
            av.open(str(path), "r", options=NO_PROBE) as source,
            av.open(str(out_path), "w", format="mp4", options=OPTIONS) as out,
        ):
            wanted = [source.streams.video[0], *source.streams.audio[:1]]
            tracks = {s.index: out.add_stream_from_template(s) for s in wanted}
            shifts = {s.index: round(zero_s / _time_base(s)) for s in wanted}
            for packet in source.demux(wanted):
                if packet.dts is None or packet.pts is None:
                    continue  # the demuxer's flush packets
                index = packet.stream.index
                packet.pts -= shifts[index]
                packet.dts -= shifts[index]
                if packet.stream.type == "audio" and packet.pts < 0:
                    continue  # sound from before the first frame
                packet.stream = tracks[index]
                out.mux(packet)


def _time_base(stream: av.stream.Stream) -> Fraction:
    if stream.time_base is None:  # never for a stream read from an MP4
        raise SegmentError(f"stream {stream.index} has no time base")
    return stream.time_base
