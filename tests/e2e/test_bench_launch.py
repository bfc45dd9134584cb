"""bench/launch.py --smoke: the launch-to-first-packet benchmark runs end to end (so it cannot
rot), on a small store, against the real recorder and a simulated camera."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.launch import main

pytestmark = pytest.mark.slow


def test_the_smoke_launch_records_and_reconciles(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    assert main(["--smoke", "--out", str(tmp_path / "store"), "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert (figures["rows"], figures["cameras"], figures["days"]) == (17_280, 2, 1)
    (run,) = figures["runs"]
    # A packet was written after the launch, the walk ran and found the store consistent.
    assert 0 < run["launch_to_first_packet_s"] == figures["launch_to_first_packet_s"] < 60
    assert 0 < run["tail_s"] < run["walk_s"] < 60
    assert run["walk_summary"] == "disk and index agree"
    # The store was put back: no file of the launch is left, the index is the pristine one.
    store = next((tmp_path / "store" / "api-data").iterdir())
    assert not [p for p in (store / "recordings").rglob("*") if p.name.endswith(".partial")]
