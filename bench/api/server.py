"""The recorder under test, in a process of its own, and the benchmark's handle on it.

    python -m bench.api.server --config CONFIG.json --ready READY.json

runs the real `Recorder` (reconciliation, retention, capture workers, the API on loopback HTTP)
as `skycam recorder` would, and once it serves writes its HTTP port and the first-start admin
password to READY.json. A process of its own keeps the client's work out of the recorder's GIL
and event loop, and lets a profiler attach to it alone (`py-spy record --pid`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.config import RecorderConfig, parse_config
from recorder.service import Recorder
from recorder.site import SITE_DB

REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 30.0


async def serve(config: RecorderConfig, ready_path: Path) -> None:
    recorder = Recorder(config)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)

    async def announce() -> None:
        await recorder.ready.wait()
        api = recorder.api
        assert api is not None
        ready = {"http_port": api.server.http_port, "password": api.first_password}
        partial = ready_path.with_suffix(".partial")
        partial.write_text(json.dumps(ready), encoding="utf-8")
        partial.chmod(0o600)
        partial.rename(ready_path)

    announcer = asyncio.create_task(announce())
    try:
        await recorder.run(shutdown)
    finally:
        announcer.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api.server")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = parse_config(json.loads(args.config.read_text(encoding="utf-8")))
    asyncio.run(serve(config, args.ready))
    return 0


@dataclass
class RunningRecorder:
    pid: int
    base_url: str
    password: str
    startup_s: float  # launch to serving: includes reconciling the whole store
    log: Path
    stop: str = ""  # after the run: "clean" (exit 0 on SIGTERM) or "killed"

    def log_lines(self, containing: str) -> int:
        with self.log.open(encoding="utf-8", errors="replace") as lines:
            return sum(containing in line for line in lines)


def recorder_config(
    data_dir: Path, cameras: dict[str, str], *, retention_days: float = 30
) -> dict[str, Any]:
    """A recorder config (docs/ref/config.md): API on loopback HTTP only, on a free port."""
    return {
        "data_dir": str(data_dir),
        "storage": {"retention_days": retention_days},
        # Long-lived tokens: a benchmark run outlasts the default 15 minutes.
        "api": {"https": False, "http_port": 0, "access_token_ttl_s": 86_400},
        "cameras": [{"id": cam, "main_url": url} for cam, url in cameras.items()],
    }


@contextlib.contextmanager
def running_recorder(
    config: dict[str, Any], work: Path, *, start_timeout_s: float = 900.0
) -> Iterator[RunningRecorder]:
    """Start the recorder, wait until it serves, stop it with SIGTERM on exit: it must exit 0,
    or, still running 30 s later, is killed and `stop` says so. Its log: `work/recorder.log`."""
    work.mkdir(parents=True, exist_ok=True)
    config_path, ready = work / "recorder.json", work / "ready.json"
    config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.api.server", "--config", str(config_path)]
    command += ["--ready", str(ready)]
    log_path = work / "recorder.log"
    launched = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"recorder exited with {process.returncode}: {_tail(log_path)}")
            if time.perf_counter() - launched > start_timeout_s:
                raise RuntimeError(f"recorder not serving after {start_timeout_s:.0f} s")
            time.sleep(0.05)
        startup_s = time.perf_counter() - launched
        facts = json.loads(ready.read_text(encoding="utf-8"))
        ready.unlink()
        if not facts["password"]:
            raise RuntimeError("the recorder created no first admin (site database left over?)")
        handle = RunningRecorder(
            process.pid,
            f"http://127.0.0.1:{facts['http_port']}",
            facts["password"],
            startup_s,
            log_path,
        )
        yield handle
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # A product bug, not a reason to lose the figures: reported in the results.
            print(f"recorder still running {STOP_TIMEOUT_S:.0f} s after SIGTERM: killed")
            handle.stop = "killed"
        else:
            if code != 0:
                raise RuntimeError(f"recorder exited with {code} after SIGTERM: {_tail(log_path)}")
            handle.stop = "clean"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def forget_accounts(data_dir: Path) -> None:
    """Remove the site database (users, sessions, audit, clips) so the next start creates the
    first admin again and prints its password; recordings and their index stay."""
    for path in data_dir.glob(SITE_DB + "*"):
        path.unlink()
    shutil.rmtree(data_dir / "clips", ignore_errors=True)


def _tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
