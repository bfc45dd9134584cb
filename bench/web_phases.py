"""Where the time of bench/web.py's two latency budgets goes (docs/ref/bench.md, "Web").

`first_frame_s` is split into the steps of the tile that showed the first picture (the page's
document and script, the player's socket, the recorder's answer, Media Source, the decoder),
`scrub_preview_ms` into the request (the recorder's own `Server-Timing` phases inside it) and
the page's part, and beside it the preview endpoint alone, asked by node without a browser.
Every figure is a median over the runs or hovers, in ms.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

# The player's phases (web/src/live/live-player.ts, `LiveStats.phases`) in the order they
# happen, each timed from the page's navigation start; a step is the time between two.
FIRST_FRAME_MARKS = (
    "document",  # the HTML received
    "script",  # the last script received
    "dom_ready",  # DOMContentLoaded handled: the app's module ran
    "start",  # the tile's player started (the wall mounted, the tile seen on screen)
    "socket",  # the live WebSocket created
    "open",  # its handshake done
    "init",  # the init section received (authenticated, the feed joined)
    "fragment",  # the first frame received
    "sourceopen",  # Media Source ready for the codec
    "appended",  # the first frames appended
    "frame",  # the first frame shown (requestVideoFrameCallback): the buffered GOP's keyframe
    "edge",  # the first frame shown at the live edge, jumped to once the keyframe was shown
)


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def first_frame_phases(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of when each step happened (`at_ms`) and of the time since the previous one
    (`step_ms`); the first frame's age on arrival and how many frames came in its append."""
    at = {mark: median(run.get(mark) for run in runs) for mark in FIRST_FRAME_MARKS}
    steps: dict[str, float | None] = {}
    for before, after in pairwise(FIRST_FRAME_MARKS):
        steps[f"{before}_to_{after}"] = median(
            run[after] - run[before] for run in runs if after in run and before in run
        )
    return {
        "at_ms": at,
        "step_ms": steps,
        "first_frame_age_ms": median(run.get("firstAgeMs") for run in runs),
        "runs_at_ms": runs,
        "first_append_frames": median(run.get("firstFrames") for run in runs),
    }


def scrub_phases(hovers: list[dict[str, Any]], endpoint: dict[str, list[Any]]) -> dict[str, Any]:
    """Per hover: pointer event to picture (`latency`), the request (`fetch`, `ttfb`), the
    recorder's handler and its phases, the page's part (latency minus the request). Then the
    endpoint alone from node: `cold` decodes (another width, never asked), `warm` is the same
    request again, answered from the recorder's cache."""

    def server(rows: list[dict[str, Any]], name: str) -> float | None:
        return median(row.get("server", {}).get(name) for row in rows)

    fetched = [h for h in hovers if "fetch_ms" in h]
    result: dict[str, Any] = {
        "browser": {
            "latency_ms": median(h["latency_ms"] for h in hovers),
            "fetch_ms": median(h["fetch_ms"] for h in fetched),
            "ttfb_ms": median(h["ttfb_ms"] for h in fetched),
            "page_ms": median(h["latency_ms"] - h["fetch_ms"] for h in fetched),
            "server_handler_ms": server(fetched, "handler"),
            "server_decode_ms": server(fetched, "decode"),
            "server_decode_cpu_ms": server(fetched, "cpu"),
            "server_queue_ms": server(fetched, "queue"),
            "server_resume_ms": server(fetched, "resume"),
            "server_locate_ms": server(fetched, "locate"),
            "hovers": len(hovers),
        }
    }
    for phase in ("cold", "warm"):
        rows = [r for r in endpoint.get(phase, []) if r["status"] == 200]
        result[f"endpoint_{phase}"] = {
            "total_ms": median(r["total_ms"] for r in rows),
            "server_handler_ms": server(rows, "handler"),
            "server_decode_ms": server(rows, "decode"),
            "server_decode_cpu_ms": server(rows, "cpu"),
            "server_queue_ms": server(rows, "queue"),
            "server_resume_ms": server(rows, "resume"),
            "requests": len(rows),
        }
    return result
