"""Measuring the recordings endpoints on the 2.6 M-row store: timeline, playlist, seek, clips and
the snapshot of an offline camera (decoded from its last recorded segment).

Every request asks for a different camera and time (seeded random), so no answer is cached by
the index's page cache more than a real user's browsing would allow. Each answer is checked (a
fast wrong answer must not pass): bucket counts, segment counts, offsets, JPEG magic, clip
durations.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.api.client import ApiClient, ApiError
from bench.api.data import DAY_MS, SEGMENT_MS, StoreFacts
from bench.api.report import Results

HOUR_MS = 3_600_000
CLIP_POLL_S = 0.02
CLIP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Counts:
    """Requests per repeat."""

    timeline: int = 20
    timeline_hour: int = 10
    playlist: int = 20
    seek: int = 30
    seek_playlist: int = 10
    snapshot: int = 10
    clips: int = 5  # of each length


class RecordingsBench:
    def __init__(self, client: ApiClient, store: StoreFacts, results: Results, seed: int) -> None:
        self.client = client
        self.store = store
        self.results = results
        self.rng = random.Random(seed)

    def run(self, repeat: int, counts: Counts) -> None:
        steps: list[tuple[str, int, Callable[[], float]]] = [
            ("timeline_ms", counts.timeline, lambda: self.timeline("auto", 1440)),
            ("timeline_hour_ms", counts.timeline_hour, lambda: self.timeline("hour", 24)),
            ("playlist_ms", counts.playlist, self.playlist),
            ("seek_ms", counts.seek, lambda: self.seek(with_playlist=False)),
            ("seek_playlist_ms", counts.seek_playlist, lambda: self.seek(with_playlist=True)),
            ("snapshot_ms", counts.snapshot, self.snapshot),
            ("clip_1min_s", counts.clips, lambda: self.clip(60_000)),
            ("clip_10min_s", counts.clips, lambda: self.clip(600_000)),
        ]
        for key, count, measure in steps:
            if repeat == 0:
                self.results.cold[key] = measure()  # the first after start: reported apart
            for _ in range(count):
                self.results.add(key, repeat, measure())

    # -- one request each ------------------------------------------------------------------

    def _camera(self) -> str:
        return self.rng.choice(self.store.cameras)

    def _instant(self, margin_ms: int = 0) -> int:
        span = self.store.days * DAY_MS - margin_ms
        return self.store.first_ms + self.rng.randrange(span // 1000) * 1000

    def timeline(self, resolution: str, buckets: int) -> float:
        camera = self._camera()
        day = self.store.day_start(self.rng.randrange(self.store.days))
        seconds, response = self.client.timed(
            "GET",
            f"/cameras/{camera}/timeline",
            params={"start": day, "end": day + DAY_MS, "resolution": resolution},
        )
        body = response.json()
        recorded = sum(b["recorded_ms"] for b in body["buckets"])
        if len(body["buckets"]) != buckets or not DAY_MS - 60_000 <= recorded < DAY_MS:
            raise ApiError(
                f"timeline of {camera} {day}: {len(body['buckets'])} buckets, {recorded}"
            )
        return seconds * 1000

    def playlist(self) -> float:
        camera = self._camera()
        start = self._instant(HOUR_MS) // HOUR_MS * HOUR_MS
        seconds, response = self.client.timed(
            "GET",
            f"/cameras/{camera}/playback.m3u8",
            params={"start": start, "end": start + HOUR_MS},
        )
        segments = response.text.count("#EXTINF:")
        if not HOUR_MS // SEGMENT_MS - 4 <= segments <= HOUR_MS // SEGMENT_MS + 1:
            raise ApiError(f"playlist of {camera} at {start}: {segments} segments")
        return seconds * 1000

    def seek(self, *, with_playlist: bool) -> float:
        camera = self._camera()
        t = self._instant() + self.rng.randrange(1000)
        params = {"t": t} | ({"playlist_start": t - HOUR_MS} if with_playlist else {})
        seconds, response = self.client.timed(
            "GET", f"/cameras/{camera}/seek", params=params, expect=None
        )
        if response.status_code == 404:  # t fell in a gap: measured all the same
            return seconds * 1000
        body = response.json()
        if response.status_code != 200 or body["offset_ms"] != t - body["segment_start_ms"]:
            raise ApiError(f"seek {camera} {t}: {response.status_code} {body}")
        return seconds * 1000

    def snapshot(self) -> float:
        camera = self._camera()
        seconds, response = self.client.timed("GET", f"/cameras/{camera}/snapshot.jpg")
        if not response.content.startswith(b"\xff\xd8"):
            raise ApiError(f"snapshot of {camera} is not a JPEG")
        return seconds * 1000

    def clip(self, length_ms: int) -> float:
        """POST, then poll every 20 ms until ready: seconds from POST to ready. Then delete."""
        camera = self._camera()
        start = self._instant(length_ms)
        began = time.perf_counter()
        _, response = self.client.timed(
            "POST",
            f"/cameras/{camera}/clips",
            json={"start": str(start), "end": str(start + length_ms)},
            expect=202,
        )
        clip = response.json()
        while clip["status"] not in ("ready", "failed"):
            if time.perf_counter() - began > CLIP_TIMEOUT_S:
                raise ApiError(f"clip {clip['id']} not ready after {CLIP_TIMEOUT_S:.0f} s")
            time.sleep(CLIP_POLL_S)
            clip = self.client.get(f"/clips/{clip['id']}").json()
        seconds = time.perf_counter() - began
        if clip["status"] != "ready":
            raise ApiError(f"clip {clip['id']} failed: {clip['error']}")
        if abs(clip["duration_ms"] - length_ms) > 1000 + SEGMENT_MS:
            raise ApiError(f"clip {clip['id']} lasts {clip['duration_ms']} ms, not {length_ms}")
        self.client.timed("DELETE", f"/clips/{clip['id']}", expect=204)
        return seconds
