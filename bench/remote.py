"""Remote media benchmark (issue 17): live and playback through `skycam relay` on loopback,
real processes (simulated cameras, the recorder, the relay, the reference device).

    .venv/bin/python bench/remote.py --json bench/out/remote.json
    .venv/bin/python bench/remote.py --smoke --json bench/out/remote-smoke.json

Figures (docs/ref/bench.md, "Remote media"):
- `remote_live_start_s`: the device's request (POST /api/v1/remote/live through the sealed
  channel) to its first frame decoded (median of `--runs`; `remote_live_start_cold_s` is the
  first run, whose live feed opens a new RTSP connection);
- `remote_live_latency_s`: for every part the device decoded, the time it was decoded minus
  the time its first frame reached the recorder (`#EXT-X-PROGRAM-DATE-TIME`; one machine, one
  clock), median, on the 1 s GOP substream and on a camera with a 4 s GOP
  (`remote_live_latency_4s_gop_s`): a player showing each part as it arrives lags that much;
- `remote_playback_start_s`: POST /api/v1/remote/playback of the last minute to the first
  segment decoded (median of `--runs`);
- `relay_cost_usd_per_viewer_hour`: what one live viewer costs the relay's AWS account per
  hour at the list prices below, from what the live watch counted (uploads, downloads, bytes,
  link requests, lease renewals), scaled to an hour; `relay_cost_breakdown_usd` itemises it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.output import emit_figures
from recorder.remote.parts import PLAYLIST
from recorder.remote.uploads import FormUploader
from recorder.remote.viewer import RemoteView, StreamDecoder, parse_playlist
from tests.remote.site import CANARY, SLOW_GOP, Phone, Site, remote_site

# AWS list prices (us-east-1, 2026), USD.
PRICE_S3_PUT = 0.005 / 1000  # PUT/POST/LIST requests, S3 Standard
PRICE_S3_GET = 0.0004 / 1000  # CloudFront's origin fetch (the media behavior caches nothing)
PRICE_S3_GB_MONTH = 0.023
# Devices download through CloudFront (signed URLs, docs/DEPLOYMENT.md): its egress, first 10 TB
# North America/Europe (S3 to CloudFront is free), and its HTTPS requests.
PRICE_EGRESS_GB = 0.085
PRICE_CLOUDFRONT_REQUEST = 0.0100 / 10_000
PRICE_REST_REQUEST = 3.50 / 1e6  # API Gateway REST API, first 333 million
PRICE_WS_MESSAGE = 1.00 / 1e6  # API Gateway WebSocket, per 32 KB message
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_LAMBDA_GB_S = 0.0000166667
PRICE_DDB_READ = 0.125 / 1e6  # on-demand read request unit
PRICE_DDB_WRITE = 0.625 / 1e6
LAMBDA_GB, LAMBDA_S = 0.25, 0.05  # a relay invocation: 256 MB, ~50 ms
# One brokered call (a lease renewal): device -> relay -> recorder and back, 4 messages, two
# of them invoking the relay's Lambda, each reading the session and counting the rate limit.
CALL_MESSAGES, CALL_INVOCATIONS, CALL_READS, CALL_WRITES = 4, 2, 4, 2
# A links request: one REST call, one Lambda, reads of the account, grant and media session.
LINKS_READS = 3
OBJECT_DAYS = 1.0  # the media bucket's lifecycle rule keeps session parts a day

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


def viewer_hour_cost(watch: dict[str, Any], uploads: int, upload_bytes: int) -> dict[str, float]:
    scale = 3600 / watch["seconds"]
    gb_down = watch["bytes_down"] * scale / 1e9
    gb_stored = upload_bytes * scale / 1e9
    lambdas = (watch["link_requests"] + watch["renewals"] * CALL_INVOCATIONS) * scale
    cost = {
        "s3_uploads": uploads * scale * PRICE_S3_PUT,
        "s3_downloads": watch["gets"] * scale * PRICE_S3_GET,
        "s3_storage": gb_stored * PRICE_S3_GB_MONTH * OBJECT_DAYS / 30,
        "egress": gb_down * PRICE_EGRESS_GB,
        "cloudfront_requests": watch["gets"] * scale * PRICE_CLOUDFRONT_REQUEST,
        "link_requests": watch["link_requests"] * scale * PRICE_REST_REQUEST,
        "lease_messages": watch["renewals"] * scale * CALL_MESSAGES * PRICE_WS_MESSAGE,
        "lambda": lambdas * (PRICE_LAMBDA_REQUEST + LAMBDA_GB * LAMBDA_S * PRICE_LAMBDA_GB_S),
        "dynamodb": scale
        * (
            watch["link_requests"] * LINKS_READS * PRICE_DDB_READ
            + watch["renewals"] * (CALL_READS * PRICE_DDB_READ + CALL_WRITES * PRICE_DDB_WRITE)
        ),
    }
    cost = {k: round(v, 5) for k, v in cost.items()}
    cost["total"] = round(sum(cost.values()), 4)
    return cost


async def measure(site: Site, runs: int, watch_s: float) -> dict[str, Any]:
    await site.until(site.connected, 60, "the tunnel connected")
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
    cost = viewer_hour_cost(watch, uploads, upload_bytes)
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
        "targets": TARGETS,
    }


def _recorded_s(site: Site) -> float:
    with site.lan() as lan:
        now = int(time.time() * 1000)
        runs = lan.get(
            f"/api/v1/cameras/{CANARY}/timeline", params={"start": now - 600_000, "end": now}
        ).json()["runs"]
    return float(sum(r["end_ms"] - r["start_ms"] for r in runs)) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--smoke", action="store_true", help="small and quick (CI)")
    parser.add_argument("--runs", type=int, default=5, help="starts measured (live, playback)")
    parser.add_argument("--watch-s", type=float, default=30, help="live watch per camera")
    args = parser.parse_args(argv)
    runs, watch_s = (2, 8.0) if args.smoke else (args.runs, args.watch_s)
    with tempfile.TemporaryDirectory(prefix="skycam-bench-remote-") as folder:
        root = Path(folder)
        with remote_site(root / "relay", root / "site") as site:
            figures = asyncio.run(measure(site, runs, watch_s))
    emit_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
