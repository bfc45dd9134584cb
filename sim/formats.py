"""The two streams every simulated camera serves, like a real IP camera's main and sub profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sim.errors import SpecError

Mount = Literal["main", "sub"]
MOUNTS: tuple[Mount, ...] = ("main", "sub")
VideoCodec = Literal["h264", "h265"]
VIDEO_CODECS: tuple[VideoCodec, ...] = ("h264", "h265")


@dataclass(frozen=True)
class StreamFormat:
    """Picture size, frame rate, bitrate and coding of one mount.

    The GOP lasts `gop_s` whole seconds (an IDR every `fps * gop_s` frames, closed GOPs), as on
    most cameras: it bounds how long a new client waits for a decodable picture and makes scenes
    of whole GOPs loop on an IDR. `codec` and `bframes` make the camera profiles real cameras
    send: H.264 Main without B-frames (the default), H.264 High with B-frames (frames sent in
    decode order, so PTS go backwards at every B-frame), H.265.
    """

    width: int
    height: int
    fps: int = 15
    bitrate_kbps: int = 2000
    codec: VideoCodec = "h264"
    bframes: int = 0
    gop_s: int = 1

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise SpecError(f"stream size {self.width}x{self.height} must be positive and even")
        if not 1 <= self.fps <= 60:
            raise SpecError(f"fps {self.fps} must be between 1 and 60")
        if not 50 <= self.bitrate_kbps <= 50_000:
            raise SpecError(f"bitrate {self.bitrate_kbps} kbps must be between 50 and 50000")
        if self.codec not in VIDEO_CODECS:
            raise SpecError(f"codec {self.codec!r} must be one of {', '.join(VIDEO_CODECS)}")
        if not 0 <= self.bframes <= 4:
            raise SpecError(f"bframes {self.bframes} must be between 0 and 4")
        if not 1 <= self.gop_s <= 10:
            raise SpecError(f"gop_s {self.gop_s} must be between 1 and 10")

    @property
    def gop(self) -> int:
        return self.fps * self.gop_s

    @property
    def plain(self) -> bool:
        """H.264 without B-frames in one-second GOPs: what every camera sent before profiles."""
        return self.codec == "h264" and self.bframes == 0 and self.gop_s == 1

    def cache_params(self) -> dict[str, Any]:
        """What shapes the encoding. The profile fields appear only when set, so the plain
        format keeps the cache keys it had before they existed."""
        params: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "bitrate_kbps": self.bitrate_kbps,
        }
        if not self.plain:
            params |= {"codec": self.codec, "bframes": self.bframes, "gop_s": self.gop_s}
        return params


MAIN_FORMAT = StreamFormat(1280, 720, 15, 2000)
SUB_FORMAT = StreamFormat(640, 360, 15, 500)


# Camera profiles (docs/ref/sim.md): the streams real cameras send, at test-friendly sizes.
HIGH_BFRAMES_FORMAT = StreamFormat(1280, 720, 25, 2000, bframes=3, gop_s=2)
H265_FORMAT = StreamFormat(1280, 720, 15, 1500, codec="h265")
