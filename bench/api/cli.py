"""API benchmark: the recorder's LAN API on a 30-day, 10-camera store, and live view.

    .venv/bin/python -m bench.api --json bench/out/api.json --repeat 3
    .venv/bin/python -m bench.api --smoke   # a 2-camera, 1-day store, a few requests (tests)

Phase 1 starts the real recorder (a process of its own, API on loopback HTTP) on a cached data
dir holding 30 days x 10 cameras of 10 s segments (2,592,000 indexed rows, each with a file:
bench/api/data.py) whose cameras are unreachable, and measures timeline, playlist, seek, clips
and snapshots over HTTP with httpx. Phase 2 starts simulated cameras and a fresh recorder and
measures live start, live latency and live snapshots. Prints each figure with its target; the
JSON holds the medians, every sample, and the setup (rows, index size, machine, load). See
docs/ref/bench.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.api.client import ApiClient
from bench.api.data import StoreFacts, ensure_store, index_bytes, store_rows
from bench.api.live import run_live
from bench.api.recordings import Counts, RecordingsBench
from bench.api.report import LoadWindow, Results, machine
from bench.api.server import forget_accounts, recorder_config, running_recorder
from bench.output import add_output_arguments, environment, write_json

OUT = Path(__file__).resolve().parents[1] / "out"
# Port 9 (discard) on loopback refuses at once: the cameras stay offline, as a camera that is
# unplugged would, and the store stays as built.
OFFLINE_URL = "rtsp://127.0.0.1:9/stream"
KEEP_DAYS = 3650  # retention must not touch the store, however old the cache gets
QUICK = Counts(
    timeline=5, timeline_hour=3, playlist=5, seek=5, seek_playlist=3, snapshot=3, clips=1
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_output_arguments(
        parser, "a 2-camera, 1-day store, one pass of a few requests, 1 live camera"
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes of every measure (3)")
    parser.add_argument(
        "--store", type=Path, default=OUT / "api-data", help="cached store (bench/out/api-data)"
    )
    parser.add_argument("--work", type=Path, default=OUT / "api", help="logs (bench/out/api)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the random choices")
    parser.add_argument("--skip-live", action="store_true", help="phase 1 only")
    parser.add_argument("--skip-recordings", action="store_true", help="phase 2 only")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument(
        "--fresh-connections",
        action="store_true",
        help="a new connection per request instead of one kept alive (as browsers do)",
    )
    return parser


def run_recordings(
    store_root: Path,
    size: tuple[int, int],
    work: Path,
    repeats: int,
    counts: Counts,
    seed: int,
    fresh_connections: bool,
    results: Results,
) -> dict[str, Any]:
    began = time.perf_counter()
    data_dir, store = ensure_store(store_root, *size)
    setup_s = time.perf_counter() - began
    _check_store(data_dir, store, "before the run")
    forget_accounts(data_dir)  # a fresh site database: the first admin and its password
    config = recorder_config(
        data_dir, dict.fromkeys(store.cameras, OFFLINE_URL), retention_days=KEEP_DAYS
    )
    with (
        running_recorder(config, work / "recordings") as server,
        ApiClient(server.base_url, server.password, fresh_connections=fresh_connections) as client,
    ):
        load = LoadWindow()
        load.track([server.pid])
        bench = RecordingsBench(client, store, results, seed)
        for repeat in range(repeats):
            print(f"  repeat {repeat + 1} of {repeats}", flush=True)
            bench.run(repeat, counts)
        window = load.close()
        # Offline cameras retry with a backoff: thousands of attempts would mean a busy loop.
        reconnects = server.log_lines("reconnecting")
    _check_store(data_dir, store, "after the run")
    return {
        "rows": store.rows,
        "cameras": len(store.cameras),
        "days": store.days,
        "index_bytes": index_bytes(data_dir),
        "segment_bytes": store.segment_bytes,
        "segment_files": "hard links to copies of one recorded 10 s segment (page cache)",
        "build_s": store.build_s,
        "cache_check_s": round(setup_s, 1),
        "recorder_start_s": round(server.startup_s, 1),
        "recorder_stop": server.stop,
        "reconnect_warnings": reconnects,
        "load": window,
    }


def _check_store(data_dir: Path, store: StoreFacts, when: str) -> None:
    """Reconciliation or retention dropping rows would make every figure meaningless."""
    rows = store_rows(data_dir)
    if rows != store.rows:
        raise RuntimeError(
            f"{when}, the index holds {rows} rows instead of {store.rows}: delete {data_dir} "
            "to rebuild it, and see the recorder's log"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    size = (10, 30)  # cameras, days
    if args.smoke:
        args.repeat, args.quick, size = 1, True, (2, 1)
    counts = QUICK if args.quick else Counts()
    results = Results()
    env = environment()
    results.facts["machine"] = machine()
    results.facts["repeats"] = args.repeat
    results.facts["connections"] = "fresh" if args.fresh_connections else "kept alive"
    results.facts["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if not args.skip_recordings:
        print("phase 1: recordings (the first run builds the store: a few minutes)", flush=True)
        results.facts["recordings"] = run_recordings(
            args.store,
            size,
            args.work,
            args.repeat,
            counts,
            args.seed,
            args.fresh_connections,
            results,
        )
    if not args.skip_live:
        print("phase 2: live view on simulated cameras", flush=True)
        results.facts["live"] = run_live(args.work, args.repeat, args.fresh_connections, results)
    print(results.table())
    if results.cold:
        cold = ", ".join(f"{key} {value:.4g}" for key, value in results.cold.items())
        print(f"first request after the recorder started: {cold}")
    print(json.dumps(results.facts, indent=1))
    write_json({**results.to_json(), "smoke": args.smoke, "environment": env}, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
