"""Synthetic grayscale scenes for unit tests of the analysis: a textured background with sensor
noise, a bright object moving across, global brightness steps. Deterministic (seeded)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 320, 180


def background(seed: int = 1) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (HEIGHT // 10, WIDTH // 10)).astype(np.float32)
    smooth = cv2.resize(base, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth, 0, 255).astype(np.float32)


class Scene:
    """Frame n of a scene: background + brightness + noise + objects."""

    def __init__(self, seed: int = 1, noise: float = 4.0) -> None:
        self.bg = background(seed)
        self.rng = np.random.default_rng(seed + 100)
        self.noise = noise
        self.brightness = 0.0

    def frame(self, objects: tuple[tuple[float, float, float, float], ...] = ()) -> Gray:
        """`objects`: (x, y, w, h) in fractions of the frame, drawn white with a dark border."""
        image = self.bg + self.brightness + self.rng.normal(0, self.noise, self.bg.shape)
        for x, y, w, h in objects:
            x0, y0 = round(x * WIDTH), round(y * HEIGHT)
            x1, y1 = round((x + w) * WIDTH), round((y + h) * HEIGHT)
            image[y0:y1, x0:x1] = 15
            image[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = 245
        return np.clip(image, 0, 255).astype(np.uint8)


def crossing(
    frames: int, *, y: float = 0.4, size: tuple[float, float] = (0.1, 0.2)
) -> Iterator[tuple[float, float, float, float]]:
    """An object crossing left to right over `frames` frames (fully inside the frame)."""
    w, h = size
    for i in range(frames):
        x = 0.02 + (0.96 - w) * i / max(frames - 1, 1)
        yield (x, y, w, h)
