"""The remote media bench in Chromium: the PWA served by the local relay, enrolled by
invitation, measured by web/bench/remote.mjs (Playwright) while this side reads the recorder's
upload counters at the edges of the viewer window (docs/ref/bench.md, "Remote media")."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

from bench.errors import BenchError
from bench.remote_cost import browser_viewer_hour
from recorder.remote.uploads import FormUploader
from tests.remote.site import CANARY, PASSWORD, SLOW_GOP, Site
from tests.web.stack import CHROMIUM, WEB

GROUP, SLOW_GROUP = "bench", "bench-4s-gop"  # wall groups of one camera each (substreams)
BROWSER_TIMEOUT_S = 900


def _uploader(site: Site) -> FormUploader:
    api = site.recorder.recorder.api
    remote = api.context.remote if api is not None else None
    if remote is None or not isinstance(remote.uploader, FormUploader):
        raise BenchError("the recorder has no relay uploader")
    return remote.uploader


async def measure_browser(
    site: Site, runs: int, watch_s: float, sessions: int, session_s: float
) -> dict[str, Any]:
    with site.lan() as lan:
        groups = [
            {"name": GROUP, "layout": 4, "cameras": [CANARY]},
            {"name": SLOW_GROUP, "layout": 4, "cameras": [SLOW_GOP]},
        ]
        saved = lan.put("/api/v1/me/groups", json=groups)
        if saved.status_code != 200:
            raise BenchError(f"camera groups: {saved.status_code} {saved.text}")
    link = await site.invitation("admin")
    env = os.environ | {
        "SKYCAM_RELAY": site.relay.rest,
        "SKYCAM_RELAY_WS": site.relay.ws,
        "INVITATION": link,
        "EMAIL": f"browser-{time.time_ns()}@bench.test",
        "CLOUD_PASSWORD": PASSWORD,
        "CAMERA": CANARY,
        "SLOW_CAMERA": SLOW_GOP,
        "GROUP": GROUP,
        "SLOW_GROUP": SLOW_GROUP,
        "RUNS": str(runs),
        "WATCH_S": str(watch_s),
        "SESSIONS": str(sessions),
        "SESSION_S": str(session_s),
        "CHROMIUM": CHROMIUM,
    }
    uploader = _uploader(site)
    child = await asyncio.create_subprocess_exec(
        "node", "bench/remote.mjs", cwd=WEB, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    stderr = asyncio.ensure_future(child.stderr.read())
    at_start = at_end = (0, 0)
    raw: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(BROWSER_TIMEOUT_S):
            async for line in child.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # not ours (a library's notice)
                if message.get("mark") == "window-start":
                    at_start = (uploader.requests, uploader.bytes)
                elif message.get("mark") == "window-end":
                    at_end = (uploader.requests, uploader.bytes)
                elif "result" in message:
                    raw = message["result"]
            await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode != 0 or raw is None:
        raise BenchError(f"the browser run failed:\n{(await stderr).decode()[-4000:]}")
    return summarize(raw, at_end[0] - at_start[0], at_end[1] - at_start[1])


def summarize(raw: dict[str, Any], uploads: int, upload_bytes: int) -> dict[str, Any]:
    window = raw["window"]
    starts = [ms / 1000 for ms in raw["live_start_ms"]]
    latency = sorted(ms / 1000 for ms in raw["latency_ms"])
    slow = [ms / 1000 for ms in raw["latency_4s_gop_ms"]]
    playback = [ms / 1000 for ms in raw["playback_start_ms"]]
    cost = browser_viewer_hour(window, uploads, upload_bytes)
    scale = 3600 / window["seconds"]

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None

    return {
        "remote_live_start_s": median(starts[1:] or starts),
        "remote_live_start_cold_s": round(starts[0], 3) if starts else None,
        "remote_live_start_runs_s": [round(s, 3) for s in starts],
        "remote_live_latency_s": median(latency),
        "remote_live_latency_p95_s": round(latency[int(len(latency) * 0.95)], 3)
        if latency
        else None,
        "remote_live_latency_frames": len(latency),
        "remote_live_latency_sessions_s": _seconds(raw["latency_sessions_ms"]),
        "remote_live_latency_window_s": median([ms / 1000 for ms in raw["latency_window_ms"]]),
        "remote_live_latency_4s_gop_s": median(slow),
        "remote_live_latency_4s_gop_frames": len(slow),
        "remote_live_latency_4s_gop_sessions_s": _seconds(raw["latency_4s_gop_sessions_ms"]),
        "remote_playback_start_s": median(playback),
        "remote_playback_start_runs_s": [round(s, 3) for s in playback],
        "relay_cost_usd_per_viewer_hour": cost["total"],
        "relay_cost_breakdown_usd": cost,
        "viewer_counts": {
            "seconds": round(window["seconds"], 1),
            "uploads": uploads,
            "upload_bytes": upload_bytes,
            **{k: v for k, v in window.items() if k not in ("seconds",)},
        },
        "viewer_counts_per_hour": {
            "object_gets": round(window["objects"] * scale),
            "link_requests": round(window["links"] * scale),
            "other_rest_requests": round(window["rest"] * scale),
            "ws_messages_browser": round((window["ws_sent"] + window["ws_received"]) * scale),
            "received_mb": round(
                (window["object_bytes"] + window["other_bytes"] + window["ws_received_bytes"])
                * scale
                / 1e6,
                1,
            ),
        },
        "failures": raw["failures"],
        "console_errors": raw["console_errors"][:10],
    }


def _seconds(ms: list[float | None]) -> list[float | None]:
    return [None if m is None else round(m / 1000, 3) for m in ms]


def complete(figures: dict[str, Any]) -> bool:
    """Every headline figure measured, nothing failed on the way: fit to be the headline."""
    keys = ("remote_live_start_s", "remote_live_latency_s", "remote_live_latency_4s_gop_s",
            "remote_playback_start_s")  # fmt: skip
    return not figures["failures"] and all(figures[k] is not None for k in keys)
