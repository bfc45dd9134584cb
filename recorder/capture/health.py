"""Per-camera health, as the API and the dashboard show it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class CameraState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # reachable before, no packets now: reconnecting with backoff
    ERROR = "error"  # the camera answers but its stream is unusable (auth, codec, garbage)
    PAUSED = "paused"  # storage circuit breaker open: connected, not writing
    DISABLED = "disabled"


@dataclass(frozen=True)
class CameraHealth:
    camera_id: str
    state: CameraState = CameraState.CONNECTING
    reason: str = ""
    since_ms: int = 0
    last_packet_ms: int | None = None
    bitrate_bps: float = 0.0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    video_codec: str = ""
    has_audio: bool = False
    segments_written: int = 0
    reconnects: int = 0
    packets_received: int = 0  # since the recorder started, over every session
    packets_written: int = 0
    packets_skipped: int = 0  # by design: before a run's first keyframe, or while paused


Listener = Callable[[CameraHealth], None]
Figures = Callable[[], dict[str, Any]]  # a running session's throughput and counts, now


class HealthBoard:
    """The latest health of every camera; notifies listeners (the real-time API) on changes.

    Lives on the event loop; capture threads post state changes through `post_threadsafe`.
    Throughput figures (bitrate, fps, last packet, packet counts) change with every packet,
    and are read only when somebody asks: a running session lends the board a function that
    gives them (`track_threadsafe`) instead of posting them, so capture never wakes the event
    loop just to update them.
    """

    def __init__(self) -> None:
        self._health: dict[str, CameraHealth] = {}
        self._figures: dict[str, Figures] = {}
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def get(self, camera_id: str) -> CameraHealth:
        health = self._health.get(camera_id) or CameraHealth(camera_id)
        figures = self._figures.get(camera_id)
        return health if figures is None else replace(health, **figures())

    def all(self) -> list[CameraHealth]:
        return [self.get(key) for key in sorted(self._health.keys() | self._figures.keys())]

    def track_threadsafe(self, camera_id: str, figures: Figures) -> None:
        """From now on, `get` reads the camera's figures from `figures`."""
        self._call(self._figures.__setitem__, camera_id, figures)

    def untrack_threadsafe(self, camera_id: str, figures: Figures) -> None:
        """Keep the last figures `figures` gives, and stop reading it."""
        self._call(self._untrack, camera_id, figures)

    def _untrack(self, camera_id: str, figures: Figures) -> None:
        if self._figures.get(camera_id) is figures:
            del self._figures[camera_id]
            self.update(camera_id, **figures())

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def update(self, camera_id: str, **changes: object) -> CameraHealth:
        current = self.get(camera_id)
        new = replace(current, **changes)  # type: ignore[arg-type]
        self._health[camera_id] = new
        if new.state != current.state or new.reason != current.reason:
            for listener in list(self._listeners):
                listener(new)
        return new

    def post_threadsafe(self, camera_id: str, **changes: object) -> None:
        self._call(lambda: self.update(camera_id, **changes))

    def _call(self, function: Callable[..., object], *args: object) -> None:
        if self._loop is None:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)
