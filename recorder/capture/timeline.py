"""Placing packets on the wall clock, and deciding where runs break.

A run is a gap-free span of recording. Within a run, a packet's wall time is `anchor + pts`.
Cameras' PTS reflect capture time, so they are more precise than arrival times, which jitter
with the network. The anchor is the earliest-arrival estimate `min(arrival - pts)`: a packet
cannot arrive before it was captured, so the smallest offset seen is the closest to the truth.
This matters at connect, when cameras (and GStreamer) flush a burst of buffered packets: the
first packet arrives late relative to its PTS, and anchoring on it alone would place the whole
run in the future by the burst's length.

A new run starts, leaving an honest gap in the index, when:
- PTS goes backwards (the camera or the RTSP session restarted its clock);
- PTS jumps forward by more than `max_gap_s` (frames were lost or the camera paused);
- packets arrive more than `max_drift_s` later than `anchor + pts` (they stopped coming while
  PTS kept counting from where it was, or the camera's clock runs slower than ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Break(Enum):
    NONE = "none"
    FIRST = "first packet"
    BACKWARDS = "PTS went backwards"
    JUMP = "PTS jumped forward"
    DRIFT = "arrival time drifted from PTS"


@dataclass
class RunTimeline:
    max_gap_s: float = 3.0
    max_drift_s: float = 3.0
    anchor: float | None = None  # wall seconds at PTS 0 for the current run
    last_pts: float | None = None
    run_start_pts: float = 0.0

    def observe(self, pts_s: float, arrival_s: float) -> Break:
        """Feed the PTS (seconds) of a video packet and when it arrived; say if a run breaks.

        Called for every video packet of every camera, so the usual case (no break) is one
        pass of plain comparisons."""
        anchor, last = self.anchor, self.last_pts
        if anchor is None or last is None:
            reason = Break.FIRST
        elif pts_s < last:
            reason = Break.BACKWARDS
        elif pts_s - last > self.max_gap_s:
            reason = Break.JUMP
        elif arrival_s - (anchor + pts_s) > self.max_drift_s:
            reason = Break.DRIFT
        else:
            offset = arrival_s - pts_s
            if offset < anchor:
                self.anchor = offset  # arrived earlier than we thought possible: we were late
            self.last_pts = pts_s
            return Break.NONE
        self.anchor = arrival_s - pts_s
        self.run_start_pts = pts_s
        self.last_pts = pts_s
        return reason

    def wall_ms(self, pts_s: float) -> int:
        assert self.anchor is not None, "no run started"
        return round((self.anchor + pts_s) * 1000)

    def reset(self) -> None:
        """Forget the run (a new connection always starts a new run)."""
        self.anchor = None
        self.last_pts = None
