"""The segmenter with hand-made timestamps: B-frame reordering, restarts, jumps, missing
timestamps, a burst at connect, silence and clocks that drift."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from recorder.capture.segmenter import (
    Action,
    Break,
    Placement,
    Segmenter,
    SegmenterSettings,
    SegmentTimes,
)

FPS = 25
TICKS = 90_000 // FPS  # one frame in a 90 kHz time base
T0 = 1_700_000_000.0  # wall time of presentation tick 0
LATENCY_S = 0.04  # every packet arrives this long after it was sent


@dataclass(frozen=True)
class Packet:
    dts: int | None
    pts: int | None
    keyframe: bool
    arrival: float


def decode_order(gop: int, group: int, pyramid: bool) -> list[int]:
    """Presentation index of each frame of one closed GOP, in decode order: the I-frame, then
    per group of `group` frames its P-frame and the B-frames before it (a pyramid decodes the
    middle B-frame first, as x264's b-pyramid does)."""
    order = [0]
    for base in range(0, gop - 1, group):
        bs = list(range(base + 1, base + group))
        if pyramid and len(bs) == 3:
            bs = [bs[1], bs[0], bs[2]]
        order += [base + group, *bs]
    assert sorted(order) == list(range(gop)), order
    return order


def camera(
    seconds: float,
    order: list[int] | None = None,
    gop: int = 25,
    *,
    first_frame: int = 0,
    tick_offset: int = 0,
    arrival: Callable[[float], float] | None = None,
) -> Iterator[Packet]:
    """A camera's video packets in decode order: frame n (presentation) is captured at T0 +
    n / FPS; each packet is sent at its DTS (decode runs `delay` frames ahead) and arrives
    LATENCY_S later, or at `arrival(sent)`."""
    order = order or list(range(gop))
    delay = max(i - p for i, p in enumerate(order))
    frames = round(seconds * FPS)
    for i in range(frames):
        n = first_frame + i
        p = n - n % gop + order[n % gop]
        dts, pts = (n - delay) * TICKS, p * TICKS
        sent = T0 + dts / 90_000
        at = arrival(sent) if arrival is not None else sent + LATENCY_S
        yield Packet(dts + tick_offset, pts + tick_offset, n % gop == 0, at)


@dataclass
class Outcome:
    placements: list[Placement]
    segments: list[SegmentTimes]

    @property
    def breaks(self) -> list[Break]:
        return [p.brk for p in self.placements if p.brk is not Break.NONE]

    @property
    def skipped(self) -> int:
        return sum(p.action is Action.SKIP for p in self.placements)


def run(
    packets: Iterator[Packet] | list[Packet], segment_s: float = 10, reorder: int = 0
) -> Outcome:
    segmenter = Segmenter(
        (1, 90_000), SegmenterSettings(segment_s=segment_s), frame_s=1 / FPS, reorder=reorder
    )
    placements, segments = [], []
    for packet in packets:
        placed = segmenter.video(packet.dts, packet.pts, packet.keyframe, packet.arrival)
        placements.append(placed)
        if placed.closed is not None:
            segments.append(placed.closed)
    last = segmenter.close()
    if last is not None:
        segments.append(last)
    return Outcome(placements, segments)


def wall_ms(frame: int) -> int:
    return round((T0 + frame / FPS + LATENCY_S) * 1000)


def assert_contiguous(segments: list[SegmentTimes]) -> None:
    for before, after in itertools.pairwise(segments):
        assert after.start_ms == before.end_ms
        assert after.run_start_ms == before.run_start_ms


@pytest.mark.parametrize(
    "order",
    [None, decode_order(25, 3, pyramid=False), decode_order(25, 4, pyramid=True)],
    ids=["no B-frames", "IBBP", "pyramid"],
)
def test_b_frames_stay_in_one_run_and_every_frame_is_written(order: list[int] | None) -> None:
    outcome = run(camera(35, order))
    assert outcome.breaks == [Break.FIRST]
    assert outcome.skipped == 0
    # Cut at the first keyframe at least 10 s in: 0, 10, 20, 30 s; the last ends after the
    # last frame shown.
    assert [s.start_ms for s in outcome.segments] == [wall_ms(f) for f in (0, 250, 500, 750)]
    assert outcome.segments[-1].end_ms == wall_ms(875)
    assert_contiguous(outcome.segments)
    # Every frame is shown at its own time, B-frames included.
    for placed in outcome.placements:
        assert placed.wall_ms == wall_ms(placed.pts // TICKS)
    # Cuts only at keyframes, and decode times written in order.
    cuts = [p for p in outcome.placements if p.action is Action.CUT]
    assert len(cuts) == 4 and all(p.pts % (25 * TICKS) == 0 for p in cuts)
    dts = [p.dts for p in outcome.placements]
    assert dts == sorted(set(dts))


def test_the_old_rule_would_have_broken_at_every_b_frame() -> None:
    """The stream the tests above use does go backwards in PTS: what RunTimeline took for a
    camera restart (issue 13)."""
    packets = list(camera(2, decode_order(25, 4, pyramid=True)))
    pts = [p.pts for p in packets]
    assert sum(b < a for a, b in itertools.pairwise(pts)) >= 20  # type: ignore[operator]


def test_a_pts_reset_starts_a_new_run() -> None:
    before = list(camera(12, decode_order(25, 4, pyramid=True)))
    # The camera restarts: its clock starts again from 0, 2 s after the last packet.
    restart = before[-1].arrival + 2

    def later(sent: float) -> float:
        return restart + (sent - T0)

    after = list(camera(12, decode_order(25, 4, pyramid=True), arrival=later))
    outcome = run(before + after)
    assert outcome.breaks == [Break.FIRST, Break.BACKWARDS]
    runs = {s.run_start_ms for s in outcome.segments}
    assert len(runs) == 2
    first_run = [s for s in outcome.segments if s.run_start_ms == min(runs)]
    second_run = [s for s in outcome.segments if s.run_start_ms == max(runs)]
    assert first_run[-1].end_ms == wall_ms(300)  # 12 s of the first run, whole
    # The new run's first frame is shown when the camera sent it again: an honest gap.
    assert second_run[0].start_ms == round(restart * 1000)
    assert_contiguous(first_run)
    assert_contiguous(second_run)


def test_a_dts_jump_beyond_max_gap_starts_a_new_run_and_a_small_one_does_not() -> None:
    def jumped(jump_s: float) -> list[Packet]:
        first = list(camera(6))
        # Frames lost: the stream resumes `jump_s` later, timestamps and arrivals alike.
        skipped = round(jump_s * FPS) + 150
        return first + list(camera(6, first_frame=skipped))

    outcome = run(jumped(5))
    assert outcome.breaks == [Break.FIRST, Break.JUMP]
    assert outcome.segments[1].start_ms - outcome.segments[0].end_ms == pytest.approx(5000, abs=50)
    small = run(jumped(1))
    assert small.breaks == [Break.FIRST]  # within max_gap_s: the run goes on over the hole


def test_missing_pts_is_the_dts_and_packets_without_either_are_skipped() -> None:
    packets = [Packet(p.dts, None, p.keyframe, p.arrival) for p in camera(3)]
    packets.insert(10, Packet(None, None, False, packets[9].arrival))
    outcome = run(packets)
    assert outcome.skipped == 1 and outcome.breaks == [Break.FIRST]
    written = [p for p in outcome.placements if p.action is not Action.SKIP]
    assert all(p.pts == p.dts for p in written) and len(written) == 75


def test_missing_dts_at_connect_is_guessed_as_ffmpeg_would() -> None:
    """FFmpeg leaves the DTS out of the first packets of a B-frame stream (as many as the
    reorder depth): the keyframe among them is kept, with no restart."""
    order = decode_order(25, 4, pyramid=True)
    packets = list(camera(3, order))
    truth = [p.dts for p in packets]
    packets[0] = Packet(None, packets[0].pts, True, packets[0].arrival)
    packets[1] = Packet(None, packets[1].pts, False, packets[1].arrival)
    outcome = run(packets, reorder=2)
    assert outcome.breaks == [Break.FIRST]
    assert outcome.skipped == 0
    assert [p.dts for p in outcome.placements] == truth
    assert outcome.segments[0].start_ms == wall_ms(0)


def test_a_missing_dts_mid_stream_follows_the_previous_one() -> None:
    packets = list(camera(3))
    packets[30] = Packet(None, packets[30].pts, False, packets[30].arrival)
    outcome = run(packets)
    assert outcome.breaks == [Break.FIRST] and outcome.skipped == 0
    assert outcome.placements[30].dts == packets[29].dts + 1  # type: ignore[operator]


def test_a_burst_at_connect_does_not_place_the_run_late() -> None:
    """The camera flushes its first second in one burst at 1 s: the anchor moves earlier as
    later packets arrive on time, and the segments are placed by the best anchor."""

    def burst(sent: float) -> float:
        return max(sent + LATENCY_S, T0 + 1.0)

    outcome = run(camera(25, decode_order(25, 4, pyramid=True), arrival=burst))
    assert outcome.breaks == [Break.FIRST]
    assert outcome.segments[0].start_ms == wall_ms(0)
    assert_contiguous(outcome.segments)
    assert outcome.placements[-1].wall_ms == wall_ms(outcome.placements[-1].pts // TICKS)


def test_silence_with_timestamps_that_kept_counting_starts_a_new_run() -> None:
    """No packets for 5 s, then the stream resumes where its timestamps left off: the
    arrivals say the time has passed, the DTS does not."""
    first = list(camera(6))

    def late(sent: float) -> float:
        return sent + LATENCY_S + 5

    outcome = run(first + list(camera(6, first_frame=150, arrival=late)))
    assert outcome.breaks == [Break.FIRST, Break.DRIFT]
    assert outcome.segments[1].start_ms - outcome.segments[0].end_ms == pytest.approx(5000, abs=50)


def test_a_camera_clock_slower_than_ours_breaks_once_the_drift_is_real() -> None:
    # The camera's second lasts 1.01 of ours: 3 s of drift after 300 s.
    def slow(sent: float) -> float:
        return T0 + (sent - T0) * 1.01 + LATENCY_S

    outcome = run(camera(400, arrival=slow), segment_s=60)
    drift = [i for i, p in enumerate(outcome.placements) if p.brk is Break.DRIFT]
    assert len(drift) == 1
    assert 295 * FPS <= drift[0] <= 305 * FPS


def test_a_camera_clock_faster_than_ours_keeps_one_run_of_contiguous_segments() -> None:
    def fast(sent: float) -> float:
        return T0 + (sent - T0) * 0.99 + LATENCY_S

    outcome = run(camera(120, arrival=fast), segment_s=10)
    assert outcome.breaks == [Break.FIRST]
    assert_contiguous(outcome.segments)
    # The anchor follows our clock: the run ends when its last packet arrived.
    assert outcome.segments[-1].end_ms == pytest.approx((T0 + 120 * 0.99) * 1000, abs=100)


def test_a_repeated_packet_is_skipped_not_taken_for_a_restart() -> None:
    packets = list(camera(3))
    packets.insert(20, packets[19])
    outcome = run(packets)
    assert outcome.breaks == [Break.FIRST] and outcome.skipped == 1


def test_packets_before_the_first_keyframe_are_skipped() -> None:
    packets = list(camera(3, first_frame=10))  # joined mid-GOP
    outcome = run(packets)
    assert outcome.skipped == 15
    assert outcome.segments[0].start_ms == wall_ms(25)


def test_closing_and_dropping_the_segment_in_flight() -> None:
    segmenter = Segmenter((1, 90_000), SegmenterSettings(), frame_s=1 / FPS)
    for packet in camera(2):
        segmenter.video(packet.dts, packet.pts, packet.keyframe, packet.arrival)
    closed = segmenter.close()
    assert closed is not None and closed.end_ms == wall_ms(50)
    assert segmenter.close() is None  # nothing in flight any more
    more = list(camera(2, first_frame=50))
    placed = segmenter.video(more[0].dts, more[0].pts, True, more[0].arrival)
    assert placed.action is Action.CUT  # the next keyframe starts a segment, same run
    segmenter.drop()
    assert segmenter.close() is None


def test_network_jitter_stays_in_one_run_and_frames_keep_their_camera_spacing() -> None:
    jitter = itertools.cycle([0.0, 0.3, 0.05, 0.8, 0.1, 1.5, 0.02])

    def jittery(sent: float) -> float:
        return sent + LATENCY_S + next(jitter)

    outcome = run(camera(30, decode_order(25, 4, pyramid=True), arrival=jittery))
    assert outcome.breaks == [Break.FIRST] and outcome.skipped == 0
    # Placed by the earliest arrivals, not by the late ones: the camera's own spacing.
    late = [p for p in outcome.placements[100:]]
    assert all(p.wall_ms == wall_ms(p.pts // TICKS) for p in late)


def test_a_clock_rebased_a_few_ms_back_is_not_a_restart() -> None:
    """FFmpeg re-bases a stream's timestamps on the first RTCP reports: the DTS may step back
    by a few milliseconds once. The run goes on and every frame is still written in order."""
    packets = list(camera(4, decode_order(25, 4, pyramid=True)))
    back = 2 * 90  # 2 ms
    shifted = (
        packets[:40]
        + [
            Packet(p.dts - back, p.pts - back, p.keyframe, p.arrival)  # type: ignore[operator]
            for p in packets[40:]
        ]
    )
    outcome = run(shifted)
    assert outcome.breaks == [Break.FIRST]
    assert outcome.skipped <= 1  # at most the frame that now collides with the one before
    dts = [p.dts for p in outcome.placements if p.action is not Action.SKIP]
    assert dts == sorted(set(dts))


@pytest.mark.parametrize("first_frame", [0, 13], ids=["from a keyframe", "joined mid-GOP"])
def test_dts_copied_from_pts_are_rebuilt(first_frame: int) -> None:
    """When FFmpeg's probe misses the B-frames it gives every packet its PTS as DTS, which
    then go backwards at every B-frame: decode times are rebuilt from the PTS, and every frame
    from the next keyframe on is written, in order, at its own time."""
    packets = [
        Packet(p.pts, p.pts, p.keyframe, p.arrival)
        for p in camera(6, decode_order(25, 4, pyramid=True), first_frame=first_frame)
    ]
    outcome = run(packets)
    assert Break.REBUILT in outcome.breaks
    assert outcome.breaks.count(Break.REBUILT) == 1
    rebuilt = next(i for i, p in enumerate(outcome.placements) if p.brk is Break.REBUILT)
    assert rebuilt < 25  # at the first B-frames (from a keyframe, that GOP is lost)
    first_cut = next(
        i for i, p in enumerate(outcome.placements) if p.action is Action.CUT and i > rebuilt
    )
    after = outcome.placements[first_cut:]
    assert all(p.action is not Action.SKIP for p in after)
    written = [p.dts for p in outcome.placements if p.action is not Action.SKIP]
    assert written == sorted(set(written))
    assert all(p.dts <= p.pts for p in after)
    # Shown a few frames late at most: the rebuilt decode delay, not the camera's.
    for placed in after:
        late_ms = placed.wall_ms - wall_ms(placed.pts // TICKS)
        assert 0 <= late_ms <= 4 * 1000 / FPS
