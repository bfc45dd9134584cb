"""The recorder as the benchmark runs it: `skycam recorder --config FILE`, plus a health report.

    python -m bench.recorder_child --config FILE --health-out FILE

Does what `skycam recorder` does (same logging, same `Recorder`, stops on SIGINT or SIGTERM after
closing its segments) and then writes every camera's `CameraHealth` as JSON. The packet counters
live only in the recorder's memory; this is how they reach the benchmark without adding anything
to the product, while the recorder still runs in a process of its own that can be measured alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from recorder.config import load_config
from recorder.service import Recorder


async def record(config_path: Path) -> list[dict[str, Any]]:
    """Record until SIGINT or SIGTERM; then every camera's health, JSON-ready."""
    recorder = Recorder(load_config(config_path))
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)
    await recorder.run(shutdown)
    return [asdict(health) for health in recorder.health.all()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recorder_child")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--health-out", type=Path, required=True)
    args = parser.parse_args(argv)
    # As skycam.cli configures it: the recorder's own log lines are part of its cost.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    report = asyncio.run(record(args.config))
    args.health_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
