"""A `StreamOpener` that replays a local clip as if it were a live camera (tests, demos).

Packets come out paced by their timestamps: with a `FakeClock` the clock is advanced instead
of sleeping, so a test records minutes of "live" video in a fraction of a second and every
arrival time agrees exactly with its PTS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recorder.capture.opener import PyAVStream, PyAVStreamOpener
from recorder.clock import Clock, FakeClock


class ReplayStream:
    def __init__(self, inner: PyAVStream, clock: Clock, speed: float) -> None:
        self._inner = inner
        self._clock = clock
        self._speed = speed
        self.info = inner.info
        self.video = inner.video
        self.audio = inner.audio

    def packets(self) -> Iterator[Any]:
        first: float | None = None
        start = self._clock.monotonic()
        for packet in self._inner.packets():
            ticks = packet.dts if packet.dts is not None else packet.pts
            at = float(ticks * packet.time_base)
            first = at if first is None else first
            due = start + (at - first) / self._speed
            lag = due - self._clock.monotonic()
            if lag > 0:
                if isinstance(self._clock, FakeClock):
                    self._clock.advance(lag)
                else:
                    time.sleep(lag)
            yield packet

    def close(self) -> None:
        self._inner.close()


class ReplayOpener:
    def __init__(self, clip: Path, clock: Clock, speed: float = 1.0) -> None:
        self._clip = clip
        self._clock = clock
        self._speed = speed
        self.opened = 0

    def open(self, url: str) -> ReplayStream:
        """Ignores `url`: every open replays the clip from its start."""
        self.opened += 1
        return ReplayStream(PyAVStreamOpener().open(str(self._clip)), self._clock, self._speed)
