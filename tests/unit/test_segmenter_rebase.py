"""A camera clock re-based in the middle of a GOP (FFmpeg's RTCP re-base of a session with
audio): hand-made B-frame streams in decode order whose timestamps step by a few ms, or by more
than a frame, forwards or back, partway through a GOP. The run stays one continuous timeline:
decode times strictly increase, no frame shows before it is decoded, and presentation order is
the camera's (capture/rebase.py)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from recorder.capture.segmenter import Action, Break, Placement, Segmenter, SegmenterSettings
from tests.unit.test_segmenter import FPS, TICKS, Packet, camera, decode_order

IBBP = decode_order(25, 3, pyramid=False)
PYRAMID = decode_order(25, 4, pyramid=True)
STEPS_MS = [11, -11, 64, -64, 150, -150]  # 11 ms: seen in CI; 64 ms: one AAC frame, > a frame


def rebased(packets: list[Packet], at: int, step_ms: float) -> list[Packet]:
    """Every packet from `at` on shifted by `step_ms` (decode and presentation times alike)."""
    step = round(step_ms * 90)
    return packets[:at] + [
        Packet(p.dts + step, p.pts + step, p.keyframe, p.arrival) for p in packets[at:]
    ]


def ffmpeg_dts(packets: list[Packet], delay: int) -> list[Packet]:
    """The DTS FFmpeg gives an RTSP stream with B-frames: the smallest of the last `delay` + 1
    PTS (its `pts_buffer`), so for a few frames after a step a DTS is a PTS from before it."""
    window: list[int] = []  # what the last DTS was taken from drops out as a PTS comes in
    out = []
    for p in packets:
        assert p.pts is not None
        window = sorted([*(window[1:] if len(window) > delay else window), p.pts])
        dts = window[0] if len(window) > delay else None
        out.append(Packet(dts, p.pts, p.keyframe, p.arrival))
    return out


def batches(packets: list[Packet], hold: int = 25) -> Iterator[list[Packet]]:
    """The session's batches: up to each keyframe, or `hold` packets of a longer GOP."""
    batch: list[Packet] = []
    for packet in packets:
        batch.append(packet)
        if packet.keyframe or len(batch) >= hold:
            yield batch
            batch = []
    if batch:
        yield batch


def place(
    packets: list[Packet], hold: int = 25, reorder: int = 0
) -> tuple[Segmenter, list[tuple[Packet, Placement]]]:
    segmenter = Segmenter(
        (1, 90_000), SegmenterSettings(segment_s=4), frame_s=1 / FPS, reorder=reorder
    )
    placed = []
    for batch in batches(packets, hold):
        segmenter.look_ahead([(p.pts, p.keyframe) for p in batch])
        for p in batch:
            placed.append((p, segmenter.video(p.dts, p.pts, p.keyframe, p.arrival)))
    return segmenter, placed


def assert_one_continuous_timeline(
    placed: list[tuple[Packet, Placement]], truth: list[Packet]
) -> None:
    """`truth`: the packets as the camera stamped them, before the step."""
    assert [pl.brk for _, pl in placed if pl.brk is not Break.NONE] == [Break.FIRST]
    # Every frame from the first keyframe on is written, in decode order...
    first = next(i for i, (_, pl) in enumerate(placed) if pl.action is Action.CUT)
    written = [
        (t, pl) for t, (_, pl) in zip(truth, placed, strict=True) if pl.action is not Action.SKIP
    ]
    assert len(written) == len(placed) - first
    dts = [pl.dts for _, pl in written]
    assert all(b > a for a, b in itertools.pairwise(dts)), "decode times must increase"
    assert all(pl.dts <= pl.pts for _, pl in written), "a frame shown before it is decoded"
    # ... and shown in the camera's presentation order, each a whole frame after the one before
    # it: the step is gone from the timeline.
    shown = sorted(written, key=lambda w: w[1].pts)
    frames = [t.pts // TICKS for t, _ in shown]
    assert frames == sorted(frames), "frames shown out of the camera's order"
    slots = [(pl.pts - shown[0][1].pts) / TICKS for _, pl in shown]
    assert slots == list(range(len(slots))), "the timeline has a step or a hole"


@pytest.mark.parametrize("step_ms", STEPS_MS)
@pytest.mark.parametrize("order", [IBBP, PYRAMID], ids=["IBBP", "pyramid"])
def test_a_step_mid_gop_is_absorbed_with_the_camera_dts(order: list[int], step_ms: float) -> None:
    """Decode and presentation times step together (a camera that sends both)."""
    packets = list(camera(8, order))
    for at in range(50, 76):  # every position in the third GOP, and both its keyframes
        segmenter, placed = place(rebased(packets, at, step_ms))
        assert_one_continuous_timeline(placed, packets)
        assert segmenter.rebases == 1
        assert segmenter.offset_s == pytest.approx(step_ms / 1000, abs=1e-4)


@pytest.mark.parametrize("step_ms", STEPS_MS)
@pytest.mark.parametrize("order", [IBBP, PYRAMID], ids=["IBBP", "pyramid"])
def test_a_step_mid_gop_is_absorbed_with_ffmpeg_dts(order: list[int], step_ms: float) -> None:
    """RTSP through FFmpeg: the PTS step at once, the DTS FFmpeg derives from them follow a
    few frames later, mixing frames from both sides of the step."""
    delay = max(i - p for i, p in enumerate(order))
    packets = list(camera(8, order))
    for at in range(50, 76):
        segmenter, placed = place(ffmpeg_dts(rebased(packets, at, step_ms), delay), reorder=delay)
        assert_one_continuous_timeline(placed, packets)
        assert segmenter.rebases == 1


@pytest.mark.parametrize("step_ms", [64, -64])
def test_a_step_at_the_end_of_a_batch_goes_where_the_gop_habitually_puts_its_frame(
    step_ms: float,
) -> None:
    """The session hands over a long GOP a second at a time: a step on the last packet of a
    batch has no frame after it to measure it by. The GOP's own pattern places it."""
    packets = list(camera(7.84, decode_order(49, 4, pyramid=True), gop=49))  # 4 whole GOPs
    for at in range(106, 146):
        hold = at - 98  # the batch that started after the keyframe (98) ends at `at`
        segmenter, placed = place(rebased(packets, at, step_ms), hold=hold)
        assert_one_continuous_timeline(placed, packets)
        assert segmenter.rebases == 1


def test_jitter_is_not_a_step() -> None:
    """One timestamp 5 ms late, the next ones on time: left as the camera sent it."""
    packets = list(camera(4, IBBP))
    late = packets[60]
    packets[60] = Packet(late.dts, late.pts + 450, late.keyframe, late.arrival)
    segmenter, placed = place(packets)
    assert segmenter.rebases == 0
    assert placed[60][1].pts == late.pts + 450


def test_a_camera_whose_timestamps_always_jitter_is_never_corrected() -> None:
    """No grid to step off: its timestamps are written as they come."""
    noise = random.Random(7)
    packets = [
        Packet(p.dts, p.pts + noise.randint(-900, 900), p.keyframe, p.arrival) for p in camera(8)
    ]
    segmenter, placed = place(packets)
    assert segmenter.rebases == 0
    assert [pl.pts for _, pl in placed] == [p.pts for p in packets]


def test_lost_frames_are_not_a_step() -> None:
    """Frames lost on the way leave a gap of whole frames: on the grid, not absorbed."""
    packets = list(camera(4))
    segmenter, placed = place(packets[:40] + packets[43:])
    assert segmenter.rebases == 0
    assert placed[40][1].pts == packets[43].pts


def test_a_restart_still_starts_a_new_run() -> None:
    """A camera whose clock restarts is not a step to absorb: an honest new run."""
    packets = list(camera(4))
    restarted = [
        Packet(p.dts, p.pts, p.keyframe, p.arrival + 4) for p in camera(4, tick_offset=-50 * TICKS)
    ]
    segmenter, placed = place(packets[:60] + restarted)
    breaks = [pl.brk for _, pl in placed if pl.brk not in (Break.NONE, Break.FIRST)]
    assert len(breaks) == 1
    assert segmenter.rebases == 0
