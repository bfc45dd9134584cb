"""A camera clock re-based in the middle of a GOP, through the real capture session, PyAV and
files: a B-frame clip with AAC replayed as a camera whose video timestamps all step, from one
packet on, as FFmpeg's RTCP re-base of a session with audio makes them step. Every segment
still decodes whole with its frames in presentation order, no frame is lost, and the audio
moves with the video (capture/rebase.py; the camera-profile tests meet the same step at random
on the simulator)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from recorder.capture.health import HealthBoard
from recorder.capture.opener import OpenedStream
from recorder.capture.replay import ReplayOpener
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import FakeClock
from recorder.errors import StreamError
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from tests.conftest import ClipFactory

FPS = 25


class RebasedStream:
    """The replayed camera, its video timestamps stepped by `step_s` from video packet `at`."""

    def __init__(self, inner: OpenedStream, at: int, step_s: float) -> None:
        self._inner = inner
        self.info, self.video, self.audio = inner.info, inner.video, inner.audio
        self._at = at
        self._step = round(step_s / inner.video.time_base)

    def packets(self) -> Iterator[Any]:
        n = 0
        for packet in self._inner.packets():
            if packet.stream is self.video:
                if n >= self._at:
                    packet.pts += self._step
                    packet.dts += self._step
                n += 1
            yield packet

    def close(self) -> None:
        self._inner.close()


class RebasingOpener:
    def __init__(self, clip: Path, clock: FakeClock, at: int, step_s: float) -> None:
        self._replay = ReplayOpener(clip, clock)
        self._at, self._step_s = at, step_s

    def open(self, url: str) -> OpenedStream:
        return RebasedStream(self._replay.open(url), self._at, self._step_s)


def record(clip: Path, data_dir: Path, at: int, step_s: float) -> list[NewSegment]:
    clock = FakeClock()
    segments: list[NewSegment] = []
    session = CaptureSession(
        "cam1", "replay://", RebasingOpener(clip, clock, at, step_s), SegmentLayout(data_dir),
        SessionSettings(segment_seconds=4), HealthBoard(), clock, segments.append,
    )  # fmt: skip
    with pytest.raises(StreamError, match="closed the stream"):
        session.run()
    return segments


def packets(path: Path, kind: str) -> list[tuple[float, float]]:
    """(decode, presentation) seconds of the file's packets of `kind`, in file order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        tick = float(stream.time_base)
        return [
            (p.dts * tick, p.pts * tick)
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]


@pytest.mark.parametrize("step_ms", [11, -11, 64, -64])
@pytest.mark.parametrize("at", [113, 131], ids=["early in a GOP", "late in a GOP"])
def test_a_clock_rebased_mid_gop_records_whole_and_in_order(
    tmp_path: Path, make_clip: ClipFactory, step_ms: int, at: int
) -> None:
    clip = make_clip(seconds=12, fps=FPS, gop_s=2, bframes=3)
    with av.open(str(clip)) as container:
        sent = sum(1 for p in container.demux(video=0) if p.size)
    segments = record(clip, tmp_path, at, step_ms / 1000)
    layout = SegmentLayout(tmp_path)
    assert [s.run_start_ms for s in segments] == [segments[0].run_start_ms] * len(segments)
    frames = 0
    for segment in segments:
        path = layout.absolute(segment.path)
        video = packets(path, "video")
        with av.open(str(path)) as container:
            shown = [f.pts * float(f.time_base) for f in container.decode(video=0)]
        # Every frame decoded, shown in order, each at its packet's time, a frame apart.
        assert shown == sorted(p for _, p in video)
        assert all(b - a == pytest.approx(1 / FPS, abs=2e-3) for a, b in itertools.pairwise(shown))
        assert all(b > a for (a, _), (b, _) in itertools.pairwise(video))
        frames += len(video)
        # The audio is continuous and moved with the video: it ends with it.
        audio = packets(path, "audio")
        assert all(b > a for (a, _), (b, _) in itertools.pairwise(audio))
        assert audio[-1][1] == pytest.approx(shown[-1], abs=0.15)
    assert frames == sent  # none lost
