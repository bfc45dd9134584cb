"""A capture session's counts and throughput, as the health board shows them.

Updated by the reader thread for every packet (plain integer adds), read by the health board
when somebody asks (`HealthBoard.track_threadsafe`): read without a lock, so a count may miss
the packet being handled, never more.
"""

from __future__ import annotations

from typing import Any

from recorder.capture.health import CameraHealth
from recorder.clock import Clock

HEALTH_INTERVAL_S = 2.0  # bitrate and fps are averaged over this window


class SessionFigures:
    def __init__(self, clock: Clock, before: CameraHealth) -> None:
        self._clock = clock
        # Counts of earlier sessions of this camera, so health shows totals.
        self._base = (
            before.segments_written,
            before.packets_received,
            before.packets_written,
            before.packets_skipped,
        )
        self.segments = 0
        self.received = self.written = self.skipped = 0
        self.last_packet = clock.monotonic()  # monotonic arrival of the newest packet
        # Throughput over the last complete window, and counters of the current one.
        self._rates = (0.0, 0.0)  # (bits/s, frames/s), replaced whole
        self._window_bytes = 0
        self._window_frames = 0
        self._window_start = self.last_packet

    def packet(self, size: int, is_video: bool, mono: float) -> None:
        self.received += 1
        self._window_bytes += size
        self._window_frames += is_video
        if mono - self._window_start >= HEALTH_INTERVAL_S:
            elapsed = mono - self._window_start
            self._rates = (self._window_bytes * 8 / elapsed, self._window_frames / elapsed)
            self._window_bytes = 0
            self._window_frames = 0
            self._window_start = mono

    def count(self, written: bool) -> None:
        if written:
            self.written += 1
        else:
            self.skipped += 1  # before a run's first keyframe, while paused, or a duplicate

    def __call__(self) -> dict[str, Any]:
        """Throughput and counts, for the health board (any thread)."""
        base = self._base
        bitrate, fps = self._rates
        figures: dict[str, Any] = {
            "bitrate_bps": bitrate,
            "fps": fps,
            "segments_written": base[0] + self.segments,
            "packets_received": base[1] + self.received,
            "packets_written": base[2] + self.written,
            "packets_skipped": base[3] + self.skipped,
        }
        if self.received:
            silent_s = self._clock.monotonic() - self.last_packet
            figures["last_packet_ms"] = round((self._clock.now() - silent_s) * 1000)
        return figures
