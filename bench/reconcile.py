"""Start-up reconciliation benchmark: how long a recorder start spends making disk and index
agree on a full store, before any camera records.

    .venv/bin/python bench/reconcile.py --json bench/out/reconcile.json

The store is the API benchmark's (bench/api/data.py: 10 cameras x 30 days of 10 s segments,
2.6 M rows, each with its file), built on first use and cached under bench/out/api-data. It is
consistent, so every run walks everything and changes nothing: the figure is the walk itself.
Each repeat opens the index and runs `Reconciler.run` in this process; wall and CPU time are
reported per repeat, with their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api.data import ensure_store
from bench.output import add_output_arguments, emit_figures, environment
from recorder.storage.layout import SegmentLayout
from recorder.storage.reconcile import Reconciler
from recorder.storage.sqlite_index import SqliteSegmentIndex

OUT = Path(__file__).resolve().parent / "out"
SMOKE = "2 cameras x 1 day, one walk"


async def reconcile_once(data_dir: Path) -> dict[str, Any]:
    async with SqliteSegmentIndex(data_dir / "index.sqlite3") as index:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = await Reconciler(index, SegmentLayout(data_dir)).run()
        return {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "changes": str(summary),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="where the store is cached")
    add_output_arguments(parser, SMOKE)
    args = parser.parse_args(argv)
    if args.smoke:
        args.cameras, args.days, args.repeat = 2, 1, 1
    env = environment()
    data_dir, facts = ensure_store(args.out / "api-data", args.cameras, args.days)
    runs = [asyncio.run(reconcile_once(data_dir)) for _ in range(args.repeat)]
    result = {
        "rows": facts.rows,
        "cameras": len(facts.cameras),
        "days": facts.days,
        "runs": runs,
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "rows_per_s": round(facts.rows / max(statistics.median(r["wall_s"] for r in runs), 0.01)),
        "smoke": args.smoke,
        "environment": env,
    }
    emit_figures(result, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
