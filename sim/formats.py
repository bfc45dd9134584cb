"""The two streams every simulated camera serves, like a real IP camera's main and sub profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.errors import SpecError

Mount = Literal["main", "sub"]
MOUNTS: tuple[Mount, ...] = ("main", "sub")


@dataclass(frozen=True)
class StreamFormat:
    """Picture size, frame rate and H.264 bitrate of one mount.

    The GOP is always one second (an IDR every `fps` frames), as on most cameras: it bounds how
    long a new client waits for a decodable picture and makes whole-second scenes loop on an IDR.
    """

    width: int
    height: int
    fps: int = 15
    bitrate_kbps: int = 2000

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise SpecError(f"stream size {self.width}x{self.height} must be positive and even")
        if not 1 <= self.fps <= 60:
            raise SpecError(f"fps {self.fps} must be between 1 and 60")
        if not 50 <= self.bitrate_kbps <= 50_000:
            raise SpecError(f"bitrate {self.bitrate_kbps} kbps must be between 50 and 50000")

    @property
    def gop(self) -> int:
        return self.fps


MAIN_FORMAT = StreamFormat(1280, 720, 15, 2000)
SUB_FORMAT = StreamFormat(640, 360, 15, 500)
