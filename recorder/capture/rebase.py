"""Absorbing a video clock re-based inside a run: pure, no I/O (the `Segmenter` calls it).

FFmpeg's RTSP demuxer re-bases every stream of a session that has more than one (video and
AAC) on the RTCP sender reports: from the first report of each stream on, a packet's PTS is
computed from the report's NTP time, so all later video timestamps step by the difference
between the two clocks (the sim measured 1 tick to one audio frame, 64 ms; a camera can be
further off), and by a few ticks again at each later report. Such a step can land in the
middle of a GOP. With B-frames a step of a frame or more puts a frame before or after its
neighbours in presentation order (the decoder shows frames in bitstream order, the file's
PTS then disagree with it), and FFmpeg's decode times, derived from a window of PTS, mix
frames from both sides of the step.

So the video keeps its own continuous timeline: a step is absorbed, subtracted from every later
video timestamp of the connection (the session moves the audio by the same amount, so lip
sync stays what RTCP says; `Segmenter.offset_s`). Where the segment writer re-bases the files
anyway (a new run) the offset is just one more constant. What counts as a step:

- the stream is on a grid: its last `GRIDDED_AFTER` frames' PTS were whole frames apart
  (within `tolerance`): every camera with a steady frame rate. A stream whose timestamps
  jitter is never corrected (nothing here can tell a step from jitter there);
- a frame lands off that grid by more than the tolerance, and the frames after it in the
  batch the session is handling (`look_ahead`) share its new phase (one late timestamp is
  jitter, not a step);
- its size is known modulo a frame only (with B-frames the PTS of consecutive frames jump by
  whole frames anyway). Among the steps of at most `max_step` that fit, the one is chosen for
  which this GOP's frames (those seen and those in the batch) each take a presentation slot
  of their own, after the GOP's keyframe, leaving the fewest slots empty: a closed GOP of a
  steady camera fills its slots exactly once. Ties go to the smallest step. At a keyframe
  the GOP continues the last one: its slot follows the previous GOP's last.

FFmpeg derives a B-frame stream's decode times from the PTS of the frames around it, so for a
few frames after a step a DTS may be a PTS from before it: `dts` corrects it by the offset
that PTS's frame got.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterable

GRIDDED_AFTER = 8  # frames on the grid in a row before a step off it is believed
PERSIST = 3  # frames after a step checked for the same phase (when the batch has them)
MAX_GOP_SLOTS = 2048  # a longer GOP stops being tracked until its next keyframe
RECENT = 16  # frames whose PTS a DTS may still be derived from
JITTER = 0  # `_step`'s answer for one frame off the grid (a step is never 0)


class RebaseAbsorber:
    def __init__(self, max_step: int, reorder: int = 0) -> None:
        self._max_step = max_step  # ticks: a larger step is left to the segmenter's breaks
        self._reorder = reorder  # FFmpeg's decode delay for the stream (frames)
        self._window: list[int] = []  # FFmpeg's PTS window for the DTS, on our timeline
        self._window_dts: int | None = None
        self.offset = 0  # ticks subtracted from the camera's video timestamps in this run
        self.rebases = 0  # steps absorbed (the session logs them)
        self._frame = 0  # the grid's frame (ticks); 0: no grid yet
        self._origin = 0  # a corrected PTS on the grid
        self._on_grid = 0
        self._gop: set[int] = set()  # slots (frames from `_origin`) shown in this GOP so far
        self._gop_start: int | None = None  # the keyframe's slot
        self._gop_max = 0  # the GOP's last slot so far
        self._gaps: list[int] = []  # slots before it still empty (B-frames to come), in order
        # Where the GOP's frames go, by how many slots are empty when they come: the gap's
        # rank (>= 0) or minus how far past the last slot (a P-frame). A camera's GOP is one
        # pattern, so this says where a frame at the end of a batch belongs.
        self._habit: dict[int, int] = {}
        self._ahead: deque[tuple[int | None, bool]] = deque()  # (raw PTS, keyframe) to come
        self._recent: deque[tuple[int, int]] = deque(maxlen=RECENT)  # (raw PTS, its offset)
        self._since_step = RECENT

    def regrid(self) -> None:
        """A new run (the camera's clock restarted or jumped): find the grid again. The
        offset stays: it is one more constant on a timeline the run starts afresh."""
        self._frame = 0

    def look_ahead(self, frames: Iterable[tuple[int | None, bool]]) -> None:
        """The (PTS, keyframe) of the video packets about to be placed, in order (the ones
        of the batch before, all placed by now, are forgotten)."""
        self._ahead.clear()
        self._ahead.extend(frames)

    def place(self, pts: int | None, keyframe: bool, frame: int) -> int:
        """The offset for this packet (to subtract from its PTS, and from its DTS through
        `dts`), given its raw PTS and the run's frame duration in ticks."""
        if self._ahead:
            self._ahead.popleft()
        if pts is None:
            return self.offset
        self._since_step += 1
        if frame != self._frame:  # a new grid (first frame, or the frame rate was refined)
            self._frame, self._origin, self._on_grid = frame, pts - self.offset, 0
            self._forget_gop()
        shown = pts - self.offset
        slots, off = divmod(shown - self._origin + frame // 2, frame)
        off -= frame // 2
        tolerance = max(2, frame // 50)
        if abs(off) > tolerance:
            gridded = self._on_grid >= GRIDDED_AFTER
            step = self._step(pts, off, keyframe, tolerance) if gridded else None
            if step == JITTER:  # one late frame: the grid stands, this frame keeps its time
                self._recent.append((pts, self.offset))
                return self.offset
            if step is None:  # a stream off any grid, or nothing fits: follow it as it is
                self._origin, self._on_grid, slots = shown, 0, 0
                self._forget_gop()
            else:
                self.offset += step
                self.rebases += 1
                self._since_step = 0
                slots = (shown - step - self._origin + frame // 2) // frame
        self._on_grid += 1
        self._note(slots, keyframe, learn=abs(off) <= tolerance)
        self._recent.append((pts, self.offset))
        if self._reorder:
            # FFmpeg's own rule for an RTSP stream's DTS (the smallest PTS of a window one
            # frame longer than the decode delay), applied to our timeline (`dts`).
            window = self._window
            if len(window) > self._reorder:
                del window[0]
            bisect.insort(window, pts - self.offset)
            self._window_dts = window[0] if len(window) > self._reorder else None
        return self.offset

    @property
    def settling(self) -> bool:
        """A step was absorbed a few frames ago: FFmpeg's DTS may still come from before it."""
        return self._since_step < RECENT

    def dts(self, dts: int) -> int:
        """`dts` (the camera's, or FFmpeg's) on the run's timeline."""
        if self._since_step < RECENT and self._window_dts is not None:
            return self._window_dts  # what FFmpeg would have said without the step
        if self._since_step < RECENT:
            for pts, offset in self._recent:
                if pts == dts:  # FFmpeg took this DTS from a frame before the step
                    return dts - offset
        return dts - self.offset

    def _forget_gop(self) -> None:
        """The grid moved: slots counted so far mean nothing (the next keyframe starts over)."""
        self._gop.clear()
        self._gaps.clear()
        self._gop_start = None

    def _note(self, slot: int, keyframe: bool, learn: bool = True) -> None:
        gop, gaps = self._gop, self._gaps
        if keyframe:
            gop.clear()
            gaps.clear()
            self._gop_start = self._gop_max = slot
        elif self._gop_start is None or len(gop) >= MAX_GOP_SLOTS:
            return  # joined mid-GOP, or a GOP too long to track: wait for a keyframe
        elif slot > self._gop_max:
            if learn:
                self._habit[len(gaps)] = self._gop_max - slot
            gaps.extend(range(self._gop_max + 1, slot))
            self._gop_max = slot
        elif slot in gaps:
            if learn:
                self._habit[len(gaps)] = gaps.index(slot)
            gaps.remove(slot)
        gop.add(slot)

    def _step(self, pts: int, off: int, keyframe: bool, tolerance: int) -> int | None:
        """The step this frame shows (ticks); JITTER if the frames after it are back on the
        grid; None if no step fits."""
        frame, shown = self._frame, pts - self.offset
        ahead = [(p - self.offset, key) for p, key in self._ahead if p is not None]
        for later, _ in ahead[:PERSIST]:
            phase = (later - self._origin - off + frame // 2) % frame - frame // 2
            if abs(phase) > tolerance:
                return JITTER  # the frames after it are not on its new phase
        seen = sum(1 for _ in itertools.takewhile(lambda a: not a[1], ahead))
        best: tuple[int, int, int, int] | None = None
        reach = self._max_step // frame + 1
        for k in range(-reach, reach + 1):
            step = off + k * frame
            if abs(step) > self._max_step:
                continue
            fit = self._fit(shown - step, keyframe, [(p - step, key) for p, key in ahead])
            if fit is None:
                continue
            holes, unusual = fit
            # With the frames after it at hand, the step that leaves no slot empty is the one;
            # at the end of a batch, the GOP's own habit says where the next frame goes.
            key = (holes, unusual) if seen >= PERSIST else (unusual, holes)
            if best is None or (*key, abs(step)) < best[:3]:
                best = (*key, abs(step), step)
        return None if best is None else best[3]

    def _fit(
        self, shown: int, keyframe: bool, ahead: list[tuple[int, bool]]
    ) -> tuple[int, int] | None:
        """How this frame and the batch's next frames of its GOP fit if it is shown at
        `shown`: None if two frames would share a slot or one would show before its
        keyframe; else how many slots the GOP leaves empty, and 1 if where this frame goes
        is not where the GOP's frames went so far with as many slots empty (0 if it is)."""
        frame, origin = self._frame, self._origin
        slot = round((shown - origin) / frame)
        if keyframe:
            # A GOP starts where the last one ends (the slots between stay empty).
            if self._gop_start is None:
                return 0, 0
            last = self._gop_max  # the last slot of the GOP this keyframe ends
            return None if slot <= last else (slot - last - 1, 0)
        start = self._gop_start
        if start is None:
            return 0, 0  # no GOP to check against: the smallest step wins
        gaps = self._gaps
        move = gaps.index(slot) if slot in gaps else self._gop_max - slot
        unusual = int(self._habit.get(len(gaps)) != move)
        taken = set(self._gop)
        for later in [shown] + [p for p, _ in itertools.takewhile(lambda a: not a[1], ahead)]:
            slot = round((later - origin) / frame)
            if slot <= start or slot in taken:
                return None
            taken.add(slot)
        return max(taken) - start + 1 - len(taken), unusual
