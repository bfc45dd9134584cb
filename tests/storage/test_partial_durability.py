"""What a crash leaves of the segment in flight: every fragment the muxer finished is in the file.

A `kill -9` loses what the process holds in memory, not what it has written (the page cache
survives the process). So a fragment must be written out when the muxer finishes it, not when
FFmpeg's I/O buffer happens to fill: then reconciliation can keep every complete fragment of a
`.partial` file, and a crash costs at most the fragment in flight.
"""

from __future__ import annotations

from pathlib import Path

import av

from recorder.capture.segment_writer import SegmentWriter
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout

from .conftest import T0


def test_each_finished_fragment_is_in_the_partial_file_at_once(
    layout: SegmentLayout, clip: Path
) -> None:
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        writer = SegmentWriter(layout, "cam", video, None, T0, 0.0)  # the run starts at 0
        keyframes = 0
        try:
            for packet in source.demux(video):
                if packet.dts is None:
                    continue
                if packet.is_keyframe:
                    keyframes += 1
                writer.write(packet, writer.video_track, packet.pts, packet.dts)
                if packet.is_keyframe and keyframes >= 2:
                    # The keyframe closed the fragment before it: on disk now, whole.
                    facts = inspect_fmp4(writer.partial)
                    assert facts.fragments == keyframes - 1, (keyframes, facts)
                    assert facts.valid_bytes == facts.size
        finally:
            writer.abort()
    assert keyframes >= 4
