"""The push bench's smoke run: the real recorder, webhook events, a loopback push service; the
JSON carries the figures and every notification decrypted to its event (checked in the bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("through", ["direct", "relay"])
def test_the_smoke_run_writes_its_figures(tmp_path: Path, through: str) -> None:
    out = tmp_path / "push.json"
    mode = ["--relay"] if through == "relay" else []
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "push.py"), "--smoke", *mode, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["smoke"] is True and results["fanout_subscribers"] == 50
    assert results["through"] == through
    assert len(results["event_to_push_samples_s"]) == 5
    assert 0 < results["event_to_push_p50_s"] <= results["event_to_push_p95_s"] < 15
    assert 0 < results["fanout_first_s"] <= results["fanout_s"] < 60
    assert "event_to_push_s" in done.stdout
