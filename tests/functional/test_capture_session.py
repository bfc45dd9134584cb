"""CaptureSession on a replayed clip: real PyAV demux and mux, real files, fake time."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import av
import pytest

from recorder.capture.affinity import allowed_cpus, choose_cpu
from recorder.capture.health import CameraState, HealthBoard
from recorder.capture.replay import ReplayOpener
from recorder.capture.segment_writer import SegmentWriter
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import FakeClock
from recorder.errors import StreamError
from recorder.media.live import LivePacket
from recorder.storage import pagecache
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment
from tests.conftest import ClipFactory
from tests.page_cache import cached_pages, skip_unless_observable


def record(
    clip: Path, data_dir: Path, segment_seconds: float = 10, writable: bool = True
) -> tuple[list[NewSegment], HealthBoard, FakeClock]:
    clock = FakeClock()
    health = HealthBoard()
    segments: list[NewSegment] = []
    session = CaptureSession(
        "cam1",
        "replay://",
        ReplayOpener(clip, clock),
        SegmentLayout(data_dir),
        SessionSettings(segment_seconds=segment_seconds),
        health,
        clock,
        segments.append,
        writable=lambda: writable,
    )
    # The clip ends: the session reports it as a closed stream, after finishing its segment.
    with pytest.raises(StreamError, match="closed the stream"):
        session.run()
    return segments, health, clock


def test_segments_are_cut_at_keyframes_and_contiguous(tmp_path: Path, make_clip: ClipFactory):
    segments, health, _clock = record(make_clip(seconds=35), tmp_path)

    durations = [s.duration_ms for s in segments]
    assert len(segments) == 4, durations
    for duration in durations[:-1]:
        assert 10_000 <= duration <= 11_000  # the configured length within one GOP
    assert 4_000 <= durations[-1] <= 5_100
    assert sum(durations) == pytest.approx(35_000, abs=200)
    for before, after in itertools.pairwise(segments):
        assert after.start_ms == before.end_ms  # one run: no gap, no overlap
        assert after.run_start_ms == segments[0].start_ms
    cam = health.get("cam1")
    assert cam.state is CameraState.ONLINE
    assert cam.width == 320
    # Every packet is accounted for: written, or skipped by design (audio before the first
    # video frame); none lost.
    assert cam.packets_received == cam.packets_written + cam.packets_skipped
    assert cam.packets_skipped < 5
    assert cam.segments_written == 4
    # Throughput over the last whole window: 15 fps, and the clip's bitrate (a test pattern
    # at 320x240 needs tens of kbit/s, not bytes and not megabits).
    assert cam.fps == pytest.approx(15, abs=1)
    assert 10_000 < cam.bitrate_bps < 2_000_000
    # The last packet arrived when the 35 s clip ended, on the session's (fake) clock.
    assert cam.last_packet_ms == pytest.approx((_clock.now()) * 1000, abs=200)


def test_segments_are_durable_playable_fmp4_with_audio(tmp_path: Path, make_clip: ClipFactory):
    segments, _, _ = record(make_clip(seconds=22), tmp_path)
    layout = SegmentLayout(tmp_path)
    assert not list(tmp_path.rglob("*.partial"))
    for segment in segments:
        path = layout.absolute(segment.path)
        facts = inspect_fmp4(path)
        assert facts.complete and facts.has_audio
        assert segment.video_codec.startswith("avc1.")
        assert segment.bytes == path.stat().st_size
        # One fragment per 1 s GOP, each starting with a keyframe.
        expected = list(range(0, segment.duration_ms, 1000))
        assert [k.offset_ms for k in segment.keyframes] == pytest.approx(expected, abs=70)
        with av.open(str(path)) as container:
            kinds = sorted(s.type for s in container.streams)
            assert kinds == ["audio", "video"]
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == pytest.approx(segment.duration_ms / 1000 * 15, abs=2)


def test_finished_segments_leave_nothing_in_the_page_cache(tmp_path: Path, make_clip: ClipFactory):
    skip_unless_observable(tmp_path)
    segments, _, _ = record(make_clip(seconds=22), tmp_path)
    layout = SegmentLayout(tmp_path)
    assert len(segments) == 3
    assert [cached_pages(layout.absolute(s.path)) for s in segments] == [0, 0, 0]


def settle_writeback(path: Path) -> None:
    if not path.exists():
        return  # the muxer has not created it yet
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def test_the_writer_keeps_only_recent_fragments_cached(tmp_path: Path, make_clip: ClipFactory):
    """`write_back` at each keyframe: what an earlier call sent to disk is dropped by the next,
    so a segment in flight holds about two fragments in memory, not all it has written."""
    skip_unless_observable(tmp_path)
    clip = make_clip(seconds=10, size="1280x720", audio=False)
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        writer = SegmentWriter(
            SegmentLayout(tmp_path), "cam1", video, None, 1_700_000_000_000, zero_s=0
        )
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            writer.write(packet, writer.video_track, packet.pts, packet.dts)
            if packet.is_keyframe:
                # What the last call started writing has reached the disk (a camera's GOP
                # later it has; here, without waiting for it): only clean pages can be dropped.
                settle_writeback(writer.partial)
                writer.write_back()
        total = pagecache.whole_pages(writer.partial.stat().st_size) // pagecache.PAGE
        cached = cached_pages(writer.partial)
        writer.abort()
    assert total > 100  # ten fragments of 720p: enough pages for the comparison to mean much
    assert cached < total / 3, (cached, total)


def test_decode_times_continue_across_the_segments_of_a_run(tmp_path: Path, make_clip: ClipFactory):
    segments, _, _ = record(make_clip(seconds=25, audio=False), tmp_path)
    layout = SegmentLayout(tmp_path)
    starts = []
    for segment in segments:
        with av.open(str(layout.absolute(segment.path))) as container:
            first = next(container.demux(video=0))
            starts.append(float(first.dts * first.time_base))
    # Each file starts where its segment sits in the run, so playback can chain them.
    for segment, start in zip(segments, starts, strict=True):
        assert start * 1000 == pytest.approx(segment.start_ms - segment.run_start_ms, abs=70)


def test_audio_at_a_cut_goes_to_the_segment_it_plays_in(tmp_path: Path, make_clip: ClipFactory):
    """Audio that arrives after a keyframe but plays before it belongs to the segment before
    the cut: each file holds the audio of its own span, and none is lost at the boundary."""
    segments, health, _ = record(make_clip(seconds=25), tmp_path)
    layout = SegmentLayout(tmp_path)
    assert len(segments) == 3
    audio_s = 0.0
    for segment in segments:
        with av.open(str(layout.absolute(segment.path))) as container:
            audio = [p for p in container.demux(audio=0) if p.pts is not None]
        first, last = audio[0], audio[-1]
        assert first.pts is not None and last.pts is not None
        start_s = (segment.start_ms - segment.run_start_ms) / 1000  # its place in the run
        assert float(first.pts * first.time_base) >= start_s - 0.07  # nothing from before
        audio_s += float((last.pts + last.duration - first.pts) * last.time_base)
    # The clip's 25 s of audio, save what came before the first keyframe: within a packet.
    assert audio_s == pytest.approx(25, abs=0.15)
    cam = health.get("cam1")
    assert cam.packets_received == cam.packets_written + cam.packets_skipped
    assert cam.packets_skipped < 5


def test_nothing_is_written_while_storage_is_not_writable(tmp_path: Path, make_clip: ClipFactory):
    segments, health, _ = record(make_clip(seconds=12, audio=False), tmp_path, writable=False)
    assert segments == []
    assert not list((tmp_path / "recordings").rglob("*.mp4*"))
    assert health.get("cam1").state is CameraState.PAUSED


class BurstClock(FakeClock):
    """A camera that flushes its first second of packets in one burst at connect: the clock
    stands still until the replay reaches 1 s, then runs normally."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 1.0

    def advance(self, seconds: float) -> None:
        hold = min(self.held, seconds)
        self.held -= hold
        super().advance(seconds - hold)


def test_a_connect_burst_does_not_skew_segment_times(tmp_path: Path, make_clip: ClipFactory):
    clock = BurstClock()
    segments: list[NewSegment] = []
    session = CaptureSession(
        "cam1",
        "replay://",
        ReplayOpener(make_clip(seconds=25, audio=False), clock),
        SegmentLayout(tmp_path),
        SessionSettings(segment_seconds=10),
        HealthBoard(),
        clock,
        segments.append,
    )
    with pytest.raises(StreamError):
        session.run()
    layout = SegmentLayout(tmp_path)
    for segment in segments:
        frames = decoded_frames(layout.absolute(segment.path))
        # The indexed duration is the content's, although the anchor moved 1 s mid-segment.
        assert segment.duration_ms == pytest.approx(frames / 15 * 1000, abs=70)
    for before, after in itertools.pairwise(segments):
        assert after.start_ms == before.end_ms


def test_packets_wait_for_their_keyframe_at_most_a_second(tmp_path: Path, make_clip: ClipFactory):
    """Packets are handled a GOP at a time, at its keyframe; with 4 s GOPs, after a second."""
    clock = FakeClock()
    delays_ms: list[float] = []
    keyframes = 0

    def tap(packet: LivePacket) -> None:
        nonlocal keyframes
        keyframes += packet.keyframe
        delays_ms.append(clock.now() * 1000 - packet.wall_ms)  # the clock is at the newest arrival

    session = CaptureSession(
        "cam1",
        "replay://",
        ReplayOpener(make_clip(seconds=12, audio=False, gop_s=4), clock),
        SegmentLayout(tmp_path),
        SessionSettings(),
        HealthBoard(),
        clock,
        lambda _segment: None,
        tap=tap,
    )
    with pytest.raises(StreamError, match="closed the stream"):
        session.run()
    assert len(delays_ms) == 12 * 15 and keyframes == 3  # every packet, the last GOP included
    assert max(delays_ms) <= 1000 + 70  # a second, and one frame of slack
    assert max(delays_ms) >= 900  # they did wait: up to a second


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="needs two CPUs to choose from")
def test_the_reader_and_session_threads_stay_on_the_chosen_cpu(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    cpus = allowed_cpus()
    cpu = choose_cpu("auto")
    assert cpu == max(cpus)
    seen: dict[str, set[int]] = {}
    clock = FakeClock()

    def on_segment(_segment: NewSegment) -> None:  # called in the session thread
        seen.setdefault("session", os.sched_getaffinity(0))

    def tap(_packet: LivePacket) -> None:  # called in the reader thread
        seen.setdefault("reader", os.sched_getaffinity(0))

    session = CaptureSession(
        "cam1",
        "replay://",
        ReplayOpener(make_clip(seconds=3), clock),
        SegmentLayout(tmp_path),
        SessionSettings(cpu=cpu),
        HealthBoard(),
        clock,
        on_segment,
        tap=tap,
    )
    failures: list[BaseException] = []

    def run() -> None:
        try:
            session.run()
        except StreamError as exc:  # the clip's end
            failures.append(exc)

    thread = threading.Thread(target=run)  # run() pins its own thread: not pytest's
    thread.start()
    thread.join(30)
    assert failures and "closed the stream" in str(failures[0])
    assert seen == {"reader": {cpu}, "session": {cpu}}
    assert allowed_cpus() == cpus  # only the session's threads were pinned
    assert choose_cpu("none") is None
