"""The PWA's budgets (issue 16), in Debian's Chromium against the real recorder and simulated
cameras on loopback (docs/ref/bench.md, "Web").

    .venv/bin/python bench/web.py --json bench/out/web.json

- js_first_load_kb: gzip -9 of every script the login page and the live wall load (target 100);
- first_frame_s: page open (logged in) to the first live frame of a 4-tile wall, median;
  first_frame_cold_s is the first run, whose feeds start cold (a new RTSP connection each);
- live_latency_s: median, over every frame of 4 tiles for 10 s, of display time minus the time
  the frame reached the recorder (same clock: one machine). The camera-to-recorder hop, about a
  frame (FFmpeg's parser holds each frame until the next begins), is not included;
- grid9_cpu_cores: CPU time of every Chromium process (browser, GPU, renderers: the process tree
  under the driver, from /proc) over GRID_S seconds of a 9-tile wall of substreams, per second
  of wall time (target 0.4); grid9_fps_min is the slowest tile's frames shown per second;
- scrub_preview_ms: on a 10-minute timeline, pointer event to preview picture shown, median
  over SCRUB_POINTS places (each a keyframe not asked for before: decoded, not cached);
- first_frame_phases and scrub_phases: where those two go (bench/web_phases.py), with the
  preview endpoint alone beside the browser's figure;
- console_errors: errors logged by the pages; axe_serious: serious or critical axe violations
  on the login and the wall.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.output import add_output_arguments, emit_figures, environment  # noqa: E402
from bench.web_phases import first_frame_phases, scrub_phases  # noqa: E402
from tests.web.stack import WEB, playwright_env, web_stack  # noqa: E402

TARGETS = {
    "js_first_load_kb": 100,
    "first_frame_s": 1.0,
    "live_latency_s": 0.5,
    "grid9_cpu_cores": 0.4,
    "scrub_preview_ms": 100,
    "console_errors": 0,
    "axe_serious": 0,
}


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    gzipped = 0
    for script in raw["scripts"]:
        if script["url"] in seen:
            continue
        seen.add(script["url"])
        gzipped += len(gzip.compress(base64.b64decode(script["body"]), compresslevel=9))
    first = [ms / 1000 for ms in raw["first_frame_ms"]]
    latency = [ms / 1000 for ms in raw["latency_ms"]]
    grid = raw["grid9"]
    scrub = sorted(raw["scrub_ms"])
    result = {
        "js_first_load_kb": round(gzipped / 1024, 1),
        "js_files": sorted(u.rsplit("/", 1)[-1] for u in seen),
        "first_frame_s": round(statistics.median(first), 3),
        "first_frame_cold_s": round(first[0], 3),
        "first_frame_runs_s": [round(x, 3) for x in first],
        "first_frame_phases": first_frame_phases(raw["first_frame_phases"]),
        "live_latency_s": round(statistics.median(latency), 3),
        "live_latency_p95_s": round(sorted(latency)[int(len(latency) * 0.95)], 3),
        "live_latency_frames": len(latency),
        "grid9_cpu_cores": round(grid["cpu_s"] / grid["elapsed_s"], 3) if grid else None,
        "grid9_fps_min": round(min(grid["fps"]), 1) if grid else None,
        "grid9_tiles": len(grid["fps"]) if grid else 0,
        "scrub_preview_ms": round(statistics.median(scrub)) if scrub else None,
        "scrub_preview_p95_ms": scrub[int(len(scrub) * 0.95)] if scrub else None,
        "scrub_previews": len(scrub),
        "scrub_fetch_ms": round(statistics.median(raw["scrub_fetch_ms"]))
        if raw["scrub_fetch_ms"]
        else None,
        "scrub_phases": scrub_phases(raw["scrub_hovers"], raw["preview_endpoint"]),
        "failures": raw["failures"],  # a measurement that could not be made, and why
        "console_errors": len(raw["console_errors"]),
        "console_error_texts": raw["console_errors"][:10],
        "axe_serious": sum(len(v) for v in raw["axe"].values()),
        "axe_rules": raw["axe"],
    }
    result["targets"] = TARGETS
    result["met"] = {
        key: result[key] is not None and result[key] <= limit for key, limit in TARGETS.items()
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_arguments(parser, "one camera, two page loads")
    parser.add_argument("--runs", type=int, default=5, help="page loads for first_frame_s")
    parser.add_argument("--cameras", type=int, default=9, help="9: the grid9 figures need them")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.cameras = 2, 1
    env_at_start = environment()
    with (
        tempfile.TemporaryDirectory(prefix="bench-web-") as tmp,
        web_stack(Path(tmp), cameras=args.cameras) as stack,
    ):
        env = playwright_env(stack) | {"RUNS": str(args.runs)}
        done = subprocess.run(
            ["node", "bench/measure.mjs"],
            cwd=WEB,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        return 1
    result = summarize(json.loads(done.stdout))
    result |= {"smoke": args.smoke, "environment": env_at_start}
    emit_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
