"""Remote media benchmark (issue 17): live and playback through `skycam relay` on loopback,
real processes (simulated cameras, the recorder, the relay), measured with two clients side by
side in one run: Chromium running the PWA (what users run: the headline figures) and the Python
reference device (recorder/tunnel/device.py with recorder/remote/viewer.py).

    .venv/bin/python bench/remote.py --json bench/out/remote.json [--client both|browser|reference]
    .venv/bin/python bench/remote.py --smoke --json bench/out/remote-smoke.json

Figures (docs/ref/bench.md, "Remote media"), each client's under `browser` and `reference`,
the headline client's (`headline_client`) also at the top level:
- `remote_live_start_s`: asking for a camera's live view to its first frame (browser: the
  in-app navigation to the camera view to the first frame shown, requestVideoFrameCallback;
  reference: POST /api/v1/remote/live through the sealed channel to its first frame decoded),
  median of the runs after the first; `remote_live_start_cold_s` is the first;
- `remote_live_latency_s`: the time a frame reached the recorder (its part's
  `#EXT-X-PROGRAM-DATE-TIME`; one machine, one clock) to its display (browser: every frame
  shown by a substream tile; reference: every part decoded), median, on the 1 s GOP camera and
  on a camera with a 4 s GOP (`remote_live_latency_4s_gop_s`);
- `remote_playback_start_s`: asking to play a recorded moment to its first frame (browser: a
  click on the timeline; reference: POST /api/v1/remote/playback of the last minute to the
  first segment decoded), median of `--runs`;
- `relay_cost_usd_per_viewer_hour`: what one live viewer costs the relay's AWS account per
  hour at the list prices of bench/remote_cost.py, from what a watch window counted, scaled to
  an hour; `relay_cost_breakdown_usd` itemises it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.errors import BenchError
from bench.output import add_output_arguments, emit_figures, environment
from bench.remote_browser import complete, measure_browser
from bench.remote_cost import reference_viewer_hour
from recorder.remote.parts import PLAYLIST
from recorder.remote.uploads import FormUploader
from recorder.remote.viewer import RemoteView, StreamDecoder, parse_playlist
from tests.remote.site import CANARY, SLOW_GOP, Phone, Site, remote_site
from tests.web.stack import build_web

TARGETS = {
    "remote_live_start_s": "<= 3",
    "remote_live_latency_s": "<= 3",
    "remote_live_latency_4s_gop_s": "<= 3",
    "remote_playback_start_s": "<= 2",
}


async def first_frame(view: RemoteView, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = await view.fetch(PLAYLIST)
        entries = [e for e in parse_playlist(text.decode())] if text else []
        independent = [e for e in entries if e.independent]
        if independent:
            entry = independent[0]
            init = await view.fetch_when_ready(entry.init)
            media = await view.fetch_when_ready(entry.name)
            if StreamDecoder().decode(init, media) > 0:
                return
        await asyncio.sleep(0.05)
    raise TimeoutError("no frame")


async def live_start(phone: Phone, camera: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        view = await RemoteView.start(
            phone.session, phone.links, "/api/v1/remote/live", {"camera_id": camera}
        )
        await first_frame(view)
        times.append(time.monotonic() - started)
        await view.stop()
    return times


async def live_watch(phone: Phone, camera: str, seconds: float) -> dict[str, Any]:
    """Follow a live view for `seconds`, polling the playlist as a tuned player does."""
    view = await RemoteView.start(
        phone.session, phone.links, "/api/v1/remote/live", {"camera_id": camera}
    )
    gets0, links0, bytes0 = phone.links.gets, phone.links.link_requests, phone.links.bytes
    decoder = StreamDecoder()
    inits: dict[str, bytes] = {}
    seen: set[str] = set()
    latencies: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        text = await view.fetch(PLAYLIST)
        for entry in parse_playlist(text.decode()) if text else []:
            if entry.name in seen or (not seen and not entry.independent):
                continue
            if entry.init not in inits:
                inits[entry.init] = await view.fetch_when_ready(entry.init)
            media = await view.fetch_when_ready(entry.name)
            decoder.decode(inits[entry.init], media)
            seen.add(entry.name)
            if entry.date_ms is not None:
                latencies.append(time.time() - entry.date_ms / 1000)
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - started
    renewals = max(1, int(elapsed / (float(view.answer["lease_s"]) / 3)))
    await view.stop()
    return {
        "seconds": elapsed,
        "parts": len(seen),
        "frames": decoder.frames,
        "latencies": latencies,
        "gets": phone.links.gets - gets0,
        "link_requests": phone.links.link_requests - links0,
        "bytes_down": phone.links.bytes - bytes0,
        "renewals": renewals,
    }


async def playback_start(site: Site, phone: Phone, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        now = int(time.time() * 1000)
        started = time.monotonic()
        view = await RemoteView.start(
            phone.session, phone.links, "/api/v1/remote/playback",
            {"camera_id": CANARY, "start": str(now - 60_000), "end": str(now)},
        )  # fmt: skip
        entry = parse_playlist((await view.fetch_when_ready(PLAYLIST)).decode())[0]
        init = await view.fetch_when_ready(entry.init)
        media = await view.fetch_when_ready(entry.name)
        assert StreamDecoder().decode(init, media) > 0
        times.append(time.monotonic() - started)
        await view.stop()
    return times


async def measure_reference(site: Site, runs: int, watch_s: float) -> dict[str, Any]:
    phone = await site.phone("bench@example.test")
    try:
        starts = await live_start(phone, CANARY, runs)
        api = site.recorder.recorder.api
        remote = api.context.remote if api is not None else None
        assert remote is not None
        uploader = remote.uploader
        assert isinstance(uploader, FormUploader)
        requests0, bytes0 = uploader.requests, uploader.bytes
        watch = await live_watch(phone, CANARY, watch_s)
        uploads, upload_bytes = uploader.requests - requests0, uploader.bytes - bytes0
        slow = await live_watch(phone, SLOW_GOP, watch_s)
        await site.until(lambda: _recorded_s(site) >= 30, 120, "half a minute recorded")
        playback = await playback_start(site, phone, runs)
    finally:
        await phone.close()
    cost = reference_viewer_hour(watch, uploads, upload_bytes)
    return {
        "remote_live_start_s": round(statistics.median(starts[1:] or starts), 3),
        "remote_live_start_cold_s": round(starts[0], 3),
        "remote_live_start_runs_s": [round(s, 3) for s in starts],
        "remote_live_latency_s": round(statistics.median(watch["latencies"]), 3),
        "remote_live_latency_4s_gop_s": round(statistics.median(slow["latencies"]), 3),
        "remote_live_parts": watch["parts"],
        "remote_live_frames": watch["frames"],
        "remote_playback_start_s": round(statistics.median(playback), 3),
        "remote_playback_start_runs_s": [round(s, 3) for s in playback],
        "relay_cost_usd_per_viewer_hour": cost["total"],
        "relay_cost_breakdown_usd": cost,
        "viewer_counts": {
            "seconds": round(watch["seconds"], 1),
            "uploads": uploads,
            "upload_bytes": upload_bytes,
            "downloads": watch["gets"],
            "download_bytes": watch["bytes_down"],
            "link_requests": watch["link_requests"],
            "lease_renewals": watch["renewals"],
        },
    }


def _recorded_s(site: Site) -> float:
    with site.lan() as lan:
        now = int(time.time() * 1000)
        runs = lan.get(
            f"/api/v1/cameras/{CANARY}/timeline", params={"start": now - 600_000, "end": now}
        ).json()["runs"]
    return float(sum(r["end_ms"] - r["start_ms"] for r in runs)) / 1000


async def measure(
    site: Site, clients: list[str], runs: int, watch_s: float, sessions: tuple[int, float]
) -> dict[str, Any]:
    """Each client in turn on the same site (the reference first: the browser's playback needs
    recordings, which are there by then), then the headline: the browser's if it measured
    every figure, else the reference's."""
    await site.until(site.connected, 60, "the tunnel connected")
    figures: dict[str, Any] = {}
    if "reference" in clients:
        figures["reference"] = await measure_reference(site, runs, watch_s)
    if "browser" in clients:
        await site.until(lambda: _recorded_s(site) >= 40, 120, "40 s recorded")
        figures["browser"] = await measure_browser(site, runs, watch_s, *sessions)
    if "browser" in figures and complete(figures["browser"]):
        headline = "browser"
    elif "reference" in figures:
        headline = "reference"
    else:
        raise BenchError(f"the browser did not measure every figure: {figures['browser']}")
    keys = ("remote_live_start_s", "remote_live_start_cold_s", "remote_live_start_runs_s",
            "remote_live_latency_s", "remote_live_latency_4s_gop_s", "remote_playback_start_s",
            "remote_playback_start_runs_s", "relay_cost_usd_per_viewer_hour",
            "relay_cost_breakdown_usd")  # fmt: skip
    return {
        "headline_client": headline,
        **{k: figures[headline][k] for k in keys},
        **figures,
        "targets": TARGETS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_arguments(parser, "2 starts of each kind, 8 s watches, both clients")
    parser.add_argument("--runs", type=int, default=5, help="starts measured (live, playback)")
    parser.add_argument("--watch-s", type=float, default=30, help="live watch per camera")
    parser.add_argument(
        "--sessions", type=int, default=3, help="browser live sessions sampled for latency"
    )
    parser.add_argument("--session-s", type=float, default=10, help="each (after the first)")
    parser.add_argument(
        "--client",
        choices=("both", "browser", "reference"),
        default="both",
        help="Chromium with the PWA, the Python reference device, or both in one run",
    )
    args = parser.parse_args(argv)
    runs, watch_s = (2, 8.0) if args.smoke else (args.runs, args.watch_s)
    sessions = (2, 5.0) if args.smoke else (args.sessions, args.session_s)
    clients = ["reference", "browser"] if args.client == "both" else [args.client]
    env_at_start = environment()
    if "browser" in clients:
        build_web()  # the relay serves web/dist: built before it starts
    with tempfile.TemporaryDirectory(prefix="skycam-bench-remote-") as folder:
        root = Path(folder)
        with remote_site(root / "relay", root / "site") as site:
            figures = asyncio.run(measure(site, clients, runs, watch_s, sessions))
    env_at_start["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    figures |= {"smoke": args.smoke, "environment": env_at_start}
    emit_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
