"""The configuration the camera server (`gst_server.py`) reads as one JSON line on its stdin.

Built by a pure function, so what the server is told can be tested without starting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import SpecError
from sim.formats import MOUNTS, StreamFormat
from sim.scene_cache import EncodedScene, order_path
from sim.spec import CameraSpec


@dataclass(frozen=True)
class PreparedCamera:
    """A camera whose media is ready: its encoded scene (None for the live pattern) and the
    audio clip if it has audio."""

    spec: CameraSpec
    encoded: EncodedScene | None
    audio: Path | None


def camera_port(index: int, spec: CameraSpec, base_port: int | None) -> int:
    """The port a camera asks for: its own, else base_port + its index, else 0 (any free port)."""
    if spec.port:
        return spec.port
    if base_port:
        return base_port + index
    return 0


def _mount(fmt: StreamFormat, video: Path | None, audio: Path | None) -> dict[str, Any]:
    order = order_path(video) if video is not None and fmt.bframes else None
    return {
        "source": "pattern" if video is None else "file",
        "video": None if video is None else str(video),
        "codec": fmt.codec,
        "gop": fmt.gop,
        "order": None if order is None else str(order),  # presentation order (B-frames)
        "width": fmt.width,
        "height": fmt.height,
        "fps": fmt.fps,
        "bitrate_kbps": fmt.bitrate_kbps,
        "audio": None if audio is None else str(audio),
        # Garbage frames are about as big as real ones, so a client sees a plausible bitrate.
        "garbage_bytes": max(500, fmt.bitrate_kbps * 1000 // 8 // fmt.fps),
    }


def server_config(
    cameras: Sequence[PreparedCamera], host: str, base_port: int | None
) -> dict[str, Any]:
    names = [c.spec.name for c in cameras]
    if len(set(names)) != len(names):
        raise SpecError(f"camera names must be unique: {names}")
    entries = []
    for index, camera in enumerate(cameras):
        spec = camera.spec
        encoded = camera.encoded
        videos = (encoded.main_video, encoded.sub_video) if encoded is not None else (None, None)
        mounts = {
            name: _mount(fmt, video, camera.audio if name == "main" else None)
            for name, fmt, video in zip(MOUNTS, (spec.main, spec.sub), videos, strict=True)
        }
        entries.append(
            {
                "name": spec.name,
                "port": camera_port(index, spec, base_port),
                "auth": (
                    {"user": spec.user, "password": spec.password} if spec.has_credentials else None
                ),
                "fault": None if spec.fault is None else spec.fault.to_server(),
                "mounts": mounts,
            }
        )
    return {"host": host, "cameras": entries}
