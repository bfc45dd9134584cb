"""Measuring live view against simulated cameras: live start, latency, live snapshot.

A fresh recorder records one simulated camera per repeat (`motion` scene, 720p, 15 fps, 1 s
GOP), so every repeat has a camera nobody has watched yet: a live stream only stops 30 s after
its last viewer, too long to wait between repeats.

- Live start: from the first GET of live.m3u8 to having its init section and newest segment,
  what a player needs before it can show a picture.
- Latency: the playlist is polled every 100 ms; when a new segment appears it is fetched, and
  `available` is the wall time after its last byte. Against what:
  * capture: the simulated camera sends frame k at Unix time k / fps, so the keyframe that starts
    each (1 s GOP) segment left the camera on a whole second: the segment's
    EXT-X-PROGRAM-DATE-TIME rounded to the nearest second (the recorder's stamp is the camera
    time plus the packet's delay, ~70 ms, which the JSON keeps as `stamp_delay_ms`);
  * the last frame: that instant plus EXTINF, the end of the segment;
  * the recorder's stamp itself (EXT-X-PROGRAM-DATE-TIME).
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.api.client import ApiClient, ApiError
from bench.api.report import LoadWindow, Results
from bench.api.server import recorder_config, running_recorder
from sim import CameraSpec, SimCluster

ONLINE_TIMEOUT_S = 60.0
SETTLE_S = 3.0  # a viewer arrives after the camera has been recording for a while
POLL_S = 0.1
LATENCY_WINDOW_S = 12.0
LIVE_SNAPSHOTS = 10
START_TIMEOUT_S = 10.0
MAX_STAMP_DELAY_MS = 400  # beyond, rounding the stamp to a second could pick the wrong one
LIVE_SNAPSHOT_AGE_MS = 3000  # a live keyframe is at most a GOP (1 s) old, plus the delay


@dataclass(frozen=True)
class LiveEntry:
    sequence: int
    uri: str
    wall_ms: int  # EXT-X-PROGRAM-DATE-TIME
    duration_s: float


@dataclass(frozen=True)
class LivePlaylist:
    init_uri: str
    entries: tuple[LiveEntry, ...]


def parse_live(text: str) -> LivePlaylist:
    init_uri, entries = "", []
    wall_ms, duration = 0, 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:URI="):
            init_uri = init_uri or line.split("=", 1)[1].strip('"')
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            when = datetime.fromisoformat(line.split(":", 1)[1])
            wall_ms = round(when.timestamp() * 1000)
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].rstrip(","))
        elif line and not line.startswith("#"):
            sequence = int(line.split("/")[-1].split(".")[0])
            entries.append(LiveEntry(sequence, line, wall_ms, duration))
    return LivePlaylist(init_uri, tuple(entries))


def run_live(work: Path, repeats: int, fresh_connections: bool, results: Results) -> dict[str, Any]:
    """One camera per repeat; returns the phase's facts for the report."""
    names = [f"live{i + 1}" for i in range(repeats)]
    data_dir = work / "live-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    began = time.perf_counter()
    with SimCluster([CameraSpec(name, "motion") for name in names]) as cluster:
        urls = {name: cluster.cameras[name].url("main", credentials=False) for name in names}
        sim_s = time.perf_counter() - began
        config = recorder_config(data_dir, urls)
        with (
            running_recorder(config, work / "live") as server,
            ApiClient(
                server.base_url, server.password, fresh_connections=fresh_connections
            ) as client,
        ):
            online_s = _wait_online(client, names)
            time.sleep(SETTLE_S)
            load = LoadWindow()
            load.track([server.pid, cluster.server_pid])
            delays: list[int] = []
            bench = LiveBench(client, results)
            for repeat, name in enumerate(names):
                bench.start_and_follow(repeat, name, delays)
                for _ in range(LIVE_SNAPSHOTS):
                    results.add("snapshot_live_ms", repeat, bench.snapshot(name))
            window = load.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "cameras": repeats,
        "sim_start_s": round(sim_s, 1),
        "recorder_start_s": round(server.startup_s, 2),
        "recorder_stop": server.stop,
        "online_after_s": round(online_s, 1),
        "segments_followed": len(delays),
        "stamp_delay_ms": {
            "min": min(delays, default=None),
            "median": statistics.median(delays) if delays else None,
            "max": max(delays, default=None),
            "unaligned": sum(not 0 <= d < MAX_STAMP_DELAY_MS for d in delays),
        },
        "load": window,
    }


def _wait_online(client: ApiClient, names: list[str]) -> float:
    began = time.perf_counter()
    waiting = set(names)
    while waiting:
        if time.perf_counter() - began > ONLINE_TIMEOUT_S:
            raise ApiError(f"cameras not online after {ONLINE_TIMEOUT_S:.0f} s: {sorted(waiting)}")
        for name in sorted(waiting):
            if client.get(f"/cameras/{name}/status").json()["state"] == "online":
                waiting.discard(name)
        time.sleep(0.2)
    return time.perf_counter() - began


class LiveBench:
    def __init__(self, client: ApiClient, results: Results) -> None:
        self.client = client
        self.results = results

    def start_and_follow(self, repeat: int, camera: str, delays: list[int]) -> None:
        began = time.perf_counter()
        playlist = self._first_playlist(camera, began)
        newest = playlist.entries[-1]
        self.client.get(f"/cameras/{camera}/{playlist.init_uri}")
        self.client.get(f"/cameras/{camera}/{newest.uri}")
        self.results.add("live_start_s", repeat, time.perf_counter() - began)
        seen = {entry.sequence for entry in playlist.entries}
        for entry, available in self._follow(camera, seen):
            self.results.add("live_latency_stamp_s", repeat, available - entry.wall_ms / 1000)
            sent_s = round(entry.wall_ms / 1000)  # the keyframe left the camera on a second
            delay_ms = entry.wall_ms - sent_s * 1000
            delays.append(delay_ms)
            if not 0 <= delay_ms < MAX_STAMP_DELAY_MS:
                continue  # the second it left is ambiguous: no capture-based sample
            self.results.add("live_latency_s", repeat, available - sent_s)
            self.results.add("live_latency_last_s", repeat, available - sent_s - entry.duration_s)

    def _first_playlist(self, camera: str, began: float) -> LivePlaylist:
        """Ask until the playlist lists a segment (the server itself waits up to 3 s)."""
        while True:
            response = self.client.request("GET", f"/cameras/{camera}/live.m3u8")
            if response.status_code == 200:
                playlist = parse_live(response.text)
                if playlist.entries:
                    return playlist
            elif response.status_code != 404:
                raise ApiError(f"live.m3u8 of {camera}: {response.status_code} {response.text}")
            if time.perf_counter() - began > START_TIMEOUT_S:
                raise ApiError(f"no live segment of {camera} after {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)

    def _follow(self, camera: str, seen: set[int]) -> Iterator[tuple[LiveEntry, float]]:
        """Segments that appear while polling, each with the wall time it was fetched."""
        began = time.perf_counter()
        polls = 0
        while time.perf_counter() - began < LATENCY_WINDOW_S:
            text = self.client.get(f"/cameras/{camera}/live.m3u8").text
            for entry in parse_live(text).entries:
                if entry.sequence in seen:
                    continue
                seen.add(entry.sequence)
                self.client.get(f"/cameras/{camera}/{entry.uri}")
                yield entry, time.time()
            polls += 1
            pause = began + polls * POLL_S - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    def snapshot(self, camera: str) -> float:
        seconds, response = self.client.timed("GET", f"/cameras/{camera}/snapshot.jpg")
        if not response.content.startswith(b"\xff\xd8"):
            raise ApiError(f"live snapshot of {camera} is not a JPEG")
        age_ms = time.time() * 1000 - int(response.headers["X-Taken-At-Ms"])
        if age_ms > LIVE_SNAPSHOT_AGE_MS:  # the last recorded segment's, not the live keyframe
            raise ApiError(f"live snapshot of {camera} is {age_ms:.0f} ms old")
        return seconds * 1000
