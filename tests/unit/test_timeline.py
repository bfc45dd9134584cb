from recorder.capture.timeline import Break, RunTimeline

FRAME = 1 / 15


def feed(timeline: RunTimeline, pts: float, arrival: float) -> Break:
    return timeline.observe(pts, arrival)


def test_first_packet_starts_a_run_anchored_at_arrival() -> None:
    timeline = RunTimeline()
    assert feed(timeline, 5.0, 1000.0) is Break.FIRST
    assert timeline.wall_ms(5.0) == 1_000_000
    assert timeline.wall_ms(6.0) == 1_001_000


def test_steady_stream_with_network_jitter_stays_in_one_run() -> None:
    timeline = RunTimeline(max_drift_s=3)
    feed(timeline, 0.0, 100.0)
    jitter = [0.0, 0.4, -0.2, 1.5, 0.1, 2.5, 0.0]
    for i in range(1, 300):
        pts = i * FRAME
        assert feed(timeline, pts, 100.0 + pts + jitter[i % len(jitter)]) is Break.NONE


def test_pts_reset_breaks_the_run_and_reanchors() -> None:
    timeline = RunTimeline()
    feed(timeline, 100.0, 1000.0)
    feed(timeline, 100.0 + FRAME, 1000.0 + FRAME)
    assert feed(timeline, 0.0, 1001.0) is Break.BACKWARDS
    assert timeline.wall_ms(0.0) == 1_001_000


def test_pts_jump_forward_breaks_the_run() -> None:
    timeline = RunTimeline(max_gap_s=3)
    feed(timeline, 10.0, 1000.0)
    assert feed(timeline, 12.0, 1002.0) is Break.NONE
    assert feed(timeline, 20.0, 1010.0) is Break.JUMP


def test_silence_with_continuous_pts_is_caught_by_arrival_drift() -> None:
    # The camera stopped for 10 s and resumed where its PTS left off: the wall clock moved,
    # so the recording must show a gap rather than pretend it was continuous.
    timeline = RunTimeline(max_gap_s=3, max_drift_s=3)
    feed(timeline, 10.0, 1000.0)
    feed(timeline, 10.0 + FRAME, 1000.0 + FRAME)
    assert feed(timeline, 10.0 + 2 * FRAME, 1010.0) is Break.DRIFT
    assert timeline.wall_ms(10.0 + 2 * FRAME) == 1_010_000


def test_reset_forgets_the_run() -> None:
    timeline = RunTimeline()
    feed(timeline, 1.0, 10.0)
    timeline.reset()
    assert feed(timeline, 1.0 + FRAME, 10.0 + FRAME) is Break.FIRST


def test_anchor_follows_the_earliest_arrival() -> None:
    # Connect burst: the first second of packets arrives at once, then live pacing.
    timeline = RunTimeline()
    for i in range(15):
        assert feed(timeline, i * FRAME, 100.0) in (Break.FIRST, Break.NONE)
    for i in range(15, 45):
        assert feed(timeline, i * FRAME, 100.0 + (i - 15) * FRAME) is Break.NONE
    # Live packets arrive 1 s earlier than the burst-based anchor predicted.
    assert timeline.wall_ms(2.0) == 101_000


def test_packets_far_later_than_their_pts_break_the_run_but_early_ones_do_not() -> None:
    timeline = RunTimeline(max_drift_s=3)
    feed(timeline, 0.0, 100.0)
    assert feed(timeline, FRAME, 95.0) is Break.NONE  # earlier: the anchor moves instead
    assert timeline.wall_ms(FRAME) == 95_000
    assert feed(timeline, 2 * FRAME, 99.0) is Break.DRIFT
