"""Deciding runs, cuts and wall-clock times from a camera's video timestamps: pure, no I/O.

The session feeds `Segmenter.video` each video packet's DTS, PTS (in ticks of the video time
base), keyframe flag and arrival time (wall seconds), in the order they arrived, and gets back
what to do with it: skip it, write it into the segment in flight, or cut (close the segment in
flight, with its settled times, and start a new one at this keyframe). Nothing here touches
PyAV, a file or a thread, so every rule is tested with hand-made timestamps
(tests/unit/test_segmenter.py).

Decode order and presentation order. Cameras with B-frames send frames in decode order, so the
PTS goes backwards at every B-frame while the DTS keeps increasing. Runs are therefore decided
on the DTS, and times shown on the PTS:

- a *run* is a span recorded without a gap. A new one starts (an honest gap in the index) when
  the DTS goes backwards (the camera or its RTSP session restarted its clock; a step back of
  less than `max_backstep_s` is FFmpeg re-basing the clock on RTCP, not a restart), jumps by
  more than `max_gap_s` (frames lost, the camera paused), or when packets arrive more than
  `max_drift_s` later than the run's clock says (they stopped while the DTS kept counting, or
  the camera's clock runs slower than ours);
- a frame is shown at wall time `anchor + PTS`. The anchor is the earliest-arrival estimate
  `min(arrival - DTS)`: frames leave the camera in decode order, none can arrive before it was
  sent, so the smallest offset is the closest to the truth; at connect, when cameras flush a
  burst of buffered frames, it moves earlier as the burst drains.

Segments are cut at the first keyframe at least `segment_s` after the segment's own start. With
closed GOPs (every camera's IDR frames), a keyframe's PTS is the smallest of everything decoded
after it, so a segment shows exactly [its keyframe's PTS, the next cut keyframe's PTS).

A clock re-based mid-GOP (FFmpeg re-bases a session with audio on its RTCP reports) is
absorbed before any of this: `RebaseAbsorber` (capture/rebase.py) subtracts the step from the
packet's timestamps, so the rules below see one continuous timeline.

Missing timestamps. FFmpeg leaves the DTS out of the first `reorder` packets of a stream with
B-frames (it cannot order them yet): they get the DTS FFmpeg's own rule would have given them
(`_guess_dts`), a guess never taken as a restart; the first real DTS replaces the anchor a
guess gave. Mid-stream, a missing DTS follows the previous one (decode order is arrival
order). A missing PTS is the DTS (a stream without reordering); a packet with neither is
skipped. When FFmpeg's probe missed the B-frames it copies each PTS into the DTS, which then go
backwards at every B-frame: from the first such step the DTS are rebuilt from the PTS
(`_rebuild_dts`), in a new run.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from recorder.capture.rebase import RebaseAbsorber

# Frames of decode delay assumed when the stream's DTS must be rebuilt: x264's B-pyramid needs
# 2, cameras rarely more than 3.
REBUILD_DEPTH = 4


class Break(Enum):
    NONE = "none"
    FIRST = "first packet"
    BACKWARDS = "DTS went backwards"
    JUMP = "DTS jumped forward"
    DRIFT = "arrival time drifted from DTS"
    REBUILT = "B-frames the stream did not announce: DTS rebuilt from PTS"


class Action(Enum):
    SKIP = "skip"  # no segment to write it to (waiting for a keyframe), or no timestamps
    WRITE = "write"  # into the segment in flight
    CUT = "cut"  # close the segment in flight (if any) and start a new one with this keyframe


@dataclass(frozen=True, slots=True)
class SegmentTimes:
    """A closed segment's place on the wall clock (ms). Segments of a run are contiguous."""

    run_start_ms: int
    start_ms: int
    end_ms: int


class Placement(NamedTuple):
    """What to do with one video packet (a tuple: one is made for every packet)."""

    action: Action
    dts: int  # ticks to write it with (the camera's, or a guess when it gave none)
    pts: int
    wall_ms: int  # when it is shown, on the wall clock (0 before a run has started)
    closed: SegmentTimes | None  # the segment this packet closes (a cut or a new run)
    brk: Break  # why a new run started at this packet, if it did


@dataclass(frozen=True)
class SegmenterSettings:
    segment_s: float = 10.0
    max_gap_s: float = 3.0
    max_drift_s: float = 3.0
    # A DTS that goes back less than this is a clock re-based (RTCP), not a camera restart: a
    # restarted camera's clock starts far from where it was.
    max_backstep_s: float = 0.25
    # A step off a steady camera's frame grid up to this long is a clock re-based by RTCP,
    # absorbed so the run's timeline stays continuous (capture/rebase.py).
    max_rebase_s: float = 1.0


class Segmenter:
    def __init__(
        self,
        time_base: tuple[int, int],
        settings: SegmenterSettings,
        frame_s: float = 1 / 15,
        reorder: int = 0,
    ) -> None:
        num, den = time_base
        self._tick_s = num / den
        self._segment_ticks = settings.segment_s / self._tick_s
        self._max_gap_ticks = settings.max_gap_s / self._tick_s
        self._max_drift_s = settings.max_drift_s
        self._max_backstep_ticks = settings.max_backstep_s / self._tick_s
        self._frame_ticks = max(1, round(frame_s / self._tick_s))  # refined from the DTS
        self._reorder = reorder  # packets FFmpeg leaves without a DTS at the start (B-frames)
        self.anchor: float | None = None  # wall seconds at tick 0 of the current run
        self._anchor_guessed = False  # the anchor rests on a guessed DTS: replace, not refine
        self._last_dts: int | None = None
        self._last_guessed = False  # the last DTS was a guess: it cannot prove a restart
        self._missing: list[int] = []  # PTS of the packets without a DTS so far (at connect)
        self._run_start_pts = 0
        self._run_start_ms: int | None = None  # fixed once the run's first segment closes
        self._written_until_ms = 0  # end of the last closed segment
        self.open = False  # a segment is in flight
        self._seg_start_pts = 0
        self._seg_end_pts = 0  # PTS just after the latest frame shown in the segment
        self.run_zero_dts: int | None = None  # the run's first written DTS: its time 0
        # Set when the camera's DTS turn out to be copies of its PTS (see `video`): the PTS
        # of the frames not decoded yet, a heap of `REBUILD_DEPTH + 1` at most.
        self._rebuilt: list[int] | None = None
        self._pts_backsteps = 0
        self._last_was_pts = False
        self._rebase = RebaseAbsorber(round(settings.max_rebase_s / self._tick_s), reorder)

    @property
    def offset_s(self) -> float:
        """How far the video's timestamps were moved back to absorb clock re-bases: the
        audio moves by as much, so the two stay as RTCP aligned them."""
        return self._rebase.offset * self._tick_s

    @property
    def rebases(self) -> int:
        """Clock re-bases absorbed so far."""
        return self._rebase.rebases

    def look_ahead(self, frames: list[tuple[int | None, bool]]) -> None:
        """The (PTS, keyframe) of the video packets about to be placed, in order: a step in
        their clock is told from jitter, and measured, by the frames after it."""
        self._rebase.look_ahead(frames)

    # -- per packet -------------------------------------------------------------------------

    def video(self, dts: int | None, pts: int | None, keyframe: bool, arrival: float) -> Placement:
        """Place one video packet. Called for every video packet of every camera, so the usual
        case (no break, no cut) is a few comparisons."""
        rebase = self._rebase
        moved = rebase.place(pts, keyframe, self._frame_ticks)
        if moved or rebase.settling:
            if pts is not None:
                pts -= moved
            if dts is not None:
                dts = rebase.dts(dts)
                if pts is not None and dts > pts:
                    # FFmpeg ordered this window by PTS from both sides of the step: no
                    # frame is decoded after it is shown (the order is kept below).
                    dts = pts
        guessed = dts is None
        if self._rebuilt is not None:  # the camera's DTS are its PTS: decode times rebuilt
            pts = pts if pts is not None else dts
            if pts is None:
                return Placement(Action.SKIP, 0, 0, 0, None, Break.NONE)
            dts, guessed = self._rebuild_dts(pts)
        elif dts is None:
            if pts is None:
                return Placement(Action.SKIP, 0, 0, 0, None, Break.NONE)
            dts = self._guess_dts(pts)
        else:
            if self._missing:
                self._missing.clear()
            if pts is None:
                pts = dts
        last, anchor = self._last_dts, self.anchor
        brk = Break.NONE
        if (
            last is not None
            and dts == pts
            and dts < last
            and self._last_was_pts
            and self._rebuilt is None
            and not rebase.settling  # a DTS set to its PTS just above, not FFmpeg's copy
        ):
            # A DTS equal to its PTS going backwards: FFmpeg did not know the stream has
            # B-frames (its probe missed them) and copied each PTS. Less than a frame, once,
            # is a clock re-based by RTCP; a frame or more, or twice, is reordering. Decode
            # times are rebuilt from here, in a new run.
            self._pts_backsteps += 1
            if self._pts_backsteps >= 2 or last - dts >= self._frame_ticks * 0.9:
                self._rebuilt = []
                self._missing.clear()
                dts, guessed = self._rebuild_dts(pts)
                last = None
                brk = Break.REBUILT
        self._last_was_pts = dts == pts
        if brk is Break.REBUILT:
            pass
        elif anchor is None or last is None:
            brk = Break.FIRST
        elif dts <= last:
            if guessed or self._last_guessed or last - dts < self._max_backstep_ticks:
                # Not a restart: a guess was off, or FFmpeg re-based the stream's clock on
                # its first RTCP reports (a few ms). Decode order is arrival order.
                dts, guessed = last + 1, True
                if pts < dts:  # it cannot be written in order: only a frame before a keyframe
                    return Placement(Action.SKIP, dts, pts, self._wall_ms(pts), None, brk)
            elif dts == last:  # a repeated packet: the muxer could not take it anyway
                return Placement(Action.SKIP, dts, pts, self._wall_ms(pts), None, brk)
            else:
                brk = Break.BACKWARDS
        elif dts - last > self._max_gap_ticks:
            brk = Break.JUMP
        elif arrival - (anchor + dts * self._tick_s) > self._max_drift_s:
            brk = Break.DRIFT
        closed = None
        if brk is Break.NONE:
            assert last is not None and anchor is not None
            if not guessed:
                step = dts - last
                if step * self._tick_s < 1 and not self._last_guessed:
                    self._frame_ticks = step
                offset = arrival - dts * self._tick_s
                if offset < anchor or self._anchor_guessed:
                    # It arrived earlier than we thought possible (or the anchor so far
                    # rested on a guessed DTS): the anchor moves earlier.
                    self.anchor = offset
                    self._anchor_guessed = False
        else:
            closed = self._close()  # with the old run's anchor
            rebase.regrid()
            self._run_start_ms = None
            self.run_zero_dts = None
            self.anchor = arrival - dts * self._tick_s
            self._anchor_guessed = guessed
        self._last_dts = dts
        self._last_guessed = guessed
        wall_ms = round((self.anchor + pts * self._tick_s) * 1000)  # type: ignore[operator]
        if keyframe and (not self.open or pts - self._seg_start_pts >= self._segment_ticks):
            if self.open:
                self._seg_end_pts = pts  # the next segment starts where this one ends
                closed = self._close()
            self.open = True
            self._seg_start_pts = pts
            self._seg_end_pts = pts + self._frame_ticks
            if self.run_zero_dts is None:  # the run's first frame written: its start
                self.run_zero_dts = dts
                self._run_start_pts = pts
            return Placement(Action.CUT, dts, pts, wall_ms, closed, brk)
        if not self.open:
            return Placement(Action.SKIP, dts, pts, wall_ms, closed, brk)
        if pts + self._frame_ticks > self._seg_end_pts:
            self._seg_end_pts = pts + self._frame_ticks
        return Placement(Action.WRITE, dts, pts, wall_ms, closed, brk)

    def _rebuild_dts(self, pts: int) -> tuple[int, bool]:
        """Decode times for a stream whose DTS are unusable, as FFmpeg builds them when it
        knows the reorder depth: the smallest PTS not yet decoded, `REBUILD_DEPTH` frames
        behind (a depth above the stream's own only delays decoding). The first frames get a
        guess that counts back from the first PTS (`_guess_dts`)."""
        pending = self._rebuilt
        assert pending is not None
        heapq.heappush(pending, pts)
        if len(pending) > REBUILD_DEPTH:
            return heapq.heappop(pending), False
        self._missing.append(pts)
        first = self._missing[0]
        return first - (REBUILD_DEPTH - len(self._missing) + 1) * self._frame_ticks, True

    def _guess_dts(self, pts: int) -> int:
        """A DTS for a packet the camera (FFmpeg) gave none."""
        if self._last_dts is not None and not self._missing:
            return self._last_dts + 1  # mid-stream: decode order is arrival order
        # At connect FFmpeg leaves out the DTS of the first `reorder` packets and gives the
        # next ones the smallest PTS still pending; the frames it left out were decoded one
        # frame apart before that, so counting back from the first PTS lands on its choice.
        self._missing.append(pts)
        first = self._missing[0]
        return first - (self._reorder - len(self._missing) + 1) * self._frame_ticks

    # -- segments ---------------------------------------------------------------------------

    def start_ms(self) -> int:
        """A first guess of the segment in flight's start (its final value comes at close)."""
        return max(self._wall_ms(self._seg_start_pts), self._written_until_ms)

    def close(self) -> SegmentTimes | None:
        """Close the segment in flight (the session ends, or storage stopped being writable);
        the next keyframe starts a new one in the same run."""
        return self._close()

    def drop(self) -> None:
        """Forget the segment in flight without placing it (nothing of it was written)."""
        self.open = False

    def _close(self) -> SegmentTimes | None:
        if not self.open:
            return None
        self.open = False
        # Wall times are settled now, with the best anchor so far (it only moves earlier).
        # Never start before what is already written, so segments never overlap; within a
        # run, each starts where the previous one ended.
        start_ms = max(self._wall_ms(self._seg_start_pts), self._written_until_ms)
        if self._run_start_ms is None:
            # Fixed for the run (it names it), though the anchor may still improve.
            self._run_start_ms = min(self._wall_ms(self._run_start_pts), start_ms)
        end_ms = max(self._wall_ms(self._seg_end_pts), start_ms + 1)
        self._written_until_ms = end_ms
        return SegmentTimes(self._run_start_ms, start_ms, end_ms)

    def _wall_ms(self, pts: int) -> int:
        anchor = self.anchor
        return 0 if anchor is None else round((anchor + pts * self._tick_s) * 1000)
