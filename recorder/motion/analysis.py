"""Frame analysis: small grayscale frames in, "is something moving, where" out. No I/O.

The pipeline (docs/design/motion.md): blur, difference against a running-average background,
threshold, mask with the zones, dilate, contours, minimum area. When most of the frame changes
at once (lights, the IR cut filter switching, the camera adjusting exposure), that is not motion:
nothing is reported for a second and the background is rebuilt as the median of its frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

from recorder.motion.config import MotionConfig, ZoneConfig, ZoneKind

# 8-bit images, typed as OpenCV's functions take and return them.
Gray = MatLike
MEDIAN_FRAMES = 15  # the background after calibration is the median of at most this many


@dataclass(frozen=True)
class Box:
    """A rectangle in fractions of the frame (0..1, origin top left)."""

    x: float
    y: float
    w: float
    h: float

    def area(self) -> float:
        return self.w * self.h

    def union(self, other: Box) -> Box:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def intersection(self, other: Box) -> float:
        """Area of the overlap."""
        w = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        h = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(w, 0.0) * max(h, 0.0)


@dataclass(frozen=True)
class AnalysisSettings:
    width: int = 160
    threshold: int = 30
    min_area: float = 0.002  # fraction of the frame
    blur: int = 3
    alpha: float = 0.05
    global_change: float = 0.5
    calibration_frames: int = 5
    dilate_iterations: int = 2
    ghost_frames: int = 3  # frames a changed but still pixel waits before it is absorbed
    zones: tuple[ZoneConfig, ...] = ()

    @classmethod
    def of(cls, config: MotionConfig) -> AnalysisSettings:
        return cls(
            width=config.width,
            threshold=config.threshold,
            min_area=config.min_area,
            blur=config.blur,
            alpha=config.background_alpha,
            global_change=config.global_change,
            calibration_frames=config.calibration_frames,
            zones=config.zones,
        )


@dataclass(frozen=True)
class FrameResult:
    motion: bool
    score: float = 0.0  # fraction of the frame covered by moving blobs
    box: Box | None = None  # union of the moving blobs
    zones: tuple[str, ...] = ()  # include zones the motion touches
    changed: float = 0.0  # fraction of the whole frame above the threshold
    calibrating: bool = False  # background being rebuilt: motion cannot be judged


def analysis_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """The (width, height) a `width` x `height` frame is shrunk to: never enlarged, even."""
    if width <= target_width:
        return width, height
    return target_width, max(2, round(height * target_width / width / 2) * 2)


class MotionAnalyzer:
    """Feed consecutive frames of one camera, all the same size, to `analyze`."""

    def __init__(self, settings: AnalysisSettings) -> None:
        self.settings = settings
        self._background: npt.NDArray[np.float32] | None = None
        self._calibrating = settings.calibration_frames
        self._shape: tuple[int, int] | None = None
        self._watched: Gray | None = None  # 255 where motion counts
        self._watched_all = True
        self._include: list[tuple[str, Gray]] = []
        self._kernel = np.ones((3, 3), np.uint8)
        self._previous: Gray | None = None
        self._settling: list[Gray] = []
        self._static: npt.NDArray[np.uint8] = np.zeros((0, 0), np.uint8)
        self.recalibrations = 0

    def reset(self) -> None:
        """Forget the background (after a reconnect: the scene may have changed)."""
        self._background = None
        self._previous = None
        self._settling.clear()
        self._calibrating = self.settings.calibration_frames

    def analyze(self, gray: Gray) -> FrameResult:
        s = self.settings
        if gray.shape[1] > s.width:
            size = analysis_size(gray.shape[1], gray.shape[0], s.width)
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        if self._shape != gray.shape:
            self._build_masks(gray.shape[1], gray.shape[0])
            self._background = None
            self._settling.clear()
        if s.blur > 1:
            gray = cv2.GaussianBlur(gray, (s.blur, s.blur), 0)
        if self._background is None:
            self._background = gray.astype(np.float32)
            self._calibrating = max(self._calibrating, 1)
            return self._settle(gray, FrameResult(motion=False, calibrating=True))
        reference = cv2.convertScaleAbs(self._background)
        diff = cv2.absdiff(gray, reference)
        _, changed_mask = cv2.threshold(diff, s.threshold, 255, cv2.THRESH_BINARY)
        changed = cv2.countNonZero(changed_mask) / changed_mask.size
        if changed < s.global_change:
            # Exposure drifting or lights ramping over several frames shift the whole picture
            # by a similar amount, each step too small to count as a global change: take the
            # median shift out before looking for moving blobs.
            offset = _median_shift(gray, reference)
            if abs(offset) >= 2:
                shifted = cv2.convertScaleAbs(self._background, beta=offset)
                _, changed_mask = cv2.threshold(
                    cv2.absdiff(gray, shifted), s.threshold, 255, cv2.THRESH_BINARY
                )
        if changed >= s.global_change:
            # Lights or IR switch: learn the background again (see _settle).
            self._background = gray.astype(np.float32)
            self._calibrating = max(s.calibration_frames, 1)
            self._settling.clear()
            self.recalibrations += 1
            return self._settle(gray, FrameResult(motion=False, changed=changed, calibrating=True))
        if self._calibrating > 0:
            return self._settle(gray, FrameResult(motion=False, changed=changed, calibrating=True))
        changed_mask = self._absorb_ghosts(gray, changed_mask)
        cv2.accumulateWeighted(gray, self._background, s.alpha)
        self._previous = gray
        return self._blobs(changed_mask, changed)

    def _absorb_ghosts(self, gray: Gray, changed_mask: Gray) -> Gray:
        """Pixels that differ from the background but not from the previous frame, for
        `ghost_frames` frames in a row, are not moving: the place something left (a ghost of
        an object the background learnt, e.g. at start-up), or something that stopped. They
        stop counting at once and blend into the background quickly, instead of showing as
        motion for the many seconds the running average alone would take."""
        s = self.settings
        assert self._background is not None
        previous = self._previous
        if self._static.shape != gray.shape:
            self._static = np.zeros(gray.shape, np.uint8)
        if previous is None or previous.shape != gray.shape:
            return changed_mask
        _, still = cv2.threshold(
            cv2.absdiff(gray, previous), s.threshold // 2, 255, cv2.THRESH_BINARY_INV
        )
        static = cv2.bitwise_and(changed_mask, still)
        counts = self._static
        counts += static > 0  # uint8: at most a few frames before being reset below
        counts[static == 0] = 0
        ghost = counts >= s.ghost_frames
        if not ghost.any():
            return changed_mask
        ghost_mask = ghost.astype(np.uint8) * 255
        cv2.accumulateWeighted(gray, self._background, 0.5, mask=ghost_mask)
        np.minimum(counts, 250, out=counts)
        return cv2.bitwise_and(changed_mask, cv2.bitwise_not(ghost_mask))

    def _settle(self, gray: Gray, result: FrameResult) -> FrameResult:
        """A calibration frame. The background becomes the per-pixel median of the calibration
        frames: something moving through the picture meanwhile covers each pixel in a few of
        them only, so it is left out, instead of leaving a ghost where it was (as following
        the picture with a running average would)."""
        self._settling.append(gray)
        del self._settling[:-MEDIAN_FRAMES]
        self._previous = gray
        self._calibrating -= 1
        if self._calibrating <= 0:
            stack = np.stack(self._settling)
            self._background = np.median(stack, axis=0).astype(np.float32)
            self._settling.clear()
        return result

    def _blobs(self, changed_mask: Gray, changed: float) -> FrameResult:
        s = self.settings
        if not self._watched_all:
            assert self._watched is not None
            changed_mask = cv2.bitwise_and(changed_mask, self._watched)
        if s.dilate_iterations:
            changed_mask = cv2.dilate(changed_mask, self._kernel, iterations=s.dilate_iterations)
        contours, _ = cv2.findContours(changed_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        height, width = changed_mask.shape
        frame_area = float(width * height)
        min_px = s.min_area * frame_area
        moving = [c for c in contours if cv2.contourArea(c) >= min_px]
        if not moving:
            return FrameResult(motion=False, changed=changed)
        area = sum(cv2.contourArea(c) for c in moving)
        x0, y0, x1, y1 = width, height, 0, 0
        for contour in moving:
            x, y, w, h = cv2.boundingRect(contour)
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x + w), max(y1, y + h)
        box = Box(x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)
        zones: tuple[str, ...] = ()
        if self._include:
            blobs = np.zeros_like(changed_mask)
            cv2.drawContours(blobs, moving, -1, 255, thickness=cv2.FILLED)
            zones = tuple(
                name
                for name, mask in self._include
                if cv2.countNonZero(cv2.bitwise_and(blobs, mask)) > 0
            )
        return FrameResult(
            motion=True, score=round(area / frame_area, 5), box=box, zones=zones, changed=changed
        )

    def _build_masks(self, width: int, height: int) -> None:
        self._shape = (height, width)
        zones = self.settings.zones
        includes = [z for z in zones if z.kind is ZoneKind.INCLUDE]
        excludes = [z for z in zones if z.kind is ZoneKind.EXCLUDE]
        self._include = [(z.name, polygon_mask(z.points, width, height)) for z in includes]
        watched: Gray
        if includes:
            watched = np.zeros((height, width), np.uint8)
            for _, mask in self._include:
                watched = cv2.bitwise_or(watched, mask)
        else:
            watched = np.full((height, width), 255, np.uint8)
        for zone in excludes:
            watched = cv2.bitwise_and(
                watched, cv2.bitwise_not(polygon_mask(zone.points, width, height))
            )
        self._watched = watched
        self._watched_all = not zones


def _median_shift(gray: Gray, reference: Gray) -> float:
    """Median brightness difference between the frame and the background (a quarter of the
    pixels is plenty and four times cheaper)."""
    sample = gray[::2, ::2].astype(np.int16) - reference[::2, ::2].astype(np.int16)
    return float(np.median(sample))


def polygon_mask(points: Sequence[tuple[float, float]], width: int, height: int) -> Gray:
    """255 inside the polygon (normalised corners), 0 outside, at the given size."""
    mask = np.zeros((height, width), np.uint8)
    corners = np.array(
        [[round(x * (width - 1)), round(y * (height - 1))] for x, y in points], np.int32
    )
    cv2.fillPoly(mask, [corners], 255)
    return mask
