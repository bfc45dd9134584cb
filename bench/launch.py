"""Launch to first packet written: how long a recorder start on a full store keeps a camera
waiting, now that reconciliation walks the store beside capture instead of before it.

    .venv/bin/python bench/launch.py --json bench/out/launch.json        # 10 cameras x 30 days
    .venv/bin/python bench/launch.py --smoke                             # 2 x 1 day, for CI

The store is the API benchmark's (bench/api/data.py: 2.6 M rows, each with its file), built on
first use and cached under bench/out/api-data. One simulated camera (`SimCluster`, `motion`
scene) records as the store's first camera; per repeat the real recorder is launched
(`skycam recorder --config ...`, a process of its own) and the bench polls the camera's current
hour directory: the first packet is written when its segment's `.partial` file has its header
(the muxer writes it with the first packet, docs/design/segments.md). Then it waits for the
full walk's `reconciled:` summary in the log, stops the recorder with SIGTERM and puts the
store back as it was (the index file from a pristine copy, the new files removed), so every
repeat walks the same store.

Output: `rows`, `cameras`, `days`, `runs` (per repeat: `launch_to_first_packet_s`,
`first_frame_s` (the first recorded frame's wall time, from the file name, minus the launch),
`tail_s` and `walk_s` (launch to the log lines of the tail recovery and of the full walk),
`walk_summary`), and the medians `launch_to_first_packet_s` and `walk_s`.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api.data import StoreFacts, ensure_store
from bench.output import add_output_arguments, emit_figures, environment
from recorder.site import INDEX_DB as INDEX_FILE
from recorder.storage.layout import SegmentLayout
from sim import CameraSpec, SimCluster
from skycam.up import write_config

OUT = Path(__file__).resolve().parent / "out"
TIMEOUT_S = 600.0  # for each wait: a first packet, the walk's summary, the stop


@dataclass
class _Log:
    """The recorder's log lines with the wall time each was read."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def follow(self, stream: Any) -> threading.Thread:
        def read() -> None:
            for line in stream:
                self.lines.append((time.time(), line.rstrip()))

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    def first(self, text: str) -> tuple[float, str] | None:
        return next(((t, line) for t, line in self.lines if text in line), None)


def launch_once(data_dir: Path, config: Path, camera_id: str, log_path: Path) -> dict[str, Any]:
    skycam = Path(sys.executable).with_name("skycam")
    launched = time.time()
    recorder = subprocess.Popen(
        [str(skycam), "recorder", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = _Log()
    reader = log.follow(recorder.stderr)
    try:
        first_seen, first_start_ms = _wait_first_packet(data_dir, camera_id, launched)
        walk = _wait(lambda: log.first("reconciled:"), "the walk's summary")
        tail = log.first("recovered the tail")
    finally:
        recorder.send_signal(signal.SIGTERM)
        try:
            recorder.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
        reader.join(5)
        log_path.write_text("\n".join(line for _, line in log.lines), encoding="utf-8")
    if recorder.returncode != 0:
        tail_lines = "\n".join(line for _, line in log.lines[-20:])
        raise RuntimeError(f"the recorder exited with {recorder.returncode}:\n{tail_lines}")
    return {
        "launch_to_first_packet_s": round(first_seen - launched, 2),
        "first_frame_s": round(first_start_ms / 1000 - launched, 2),
        "tail_s": round(tail[0] - launched, 2) if tail else None,
        "walk_s": round(walk[0] - launched, 2),
        "walk_summary": walk[1].split("reconciled:", 1)[1].strip(),
    }


def _wait_first_packet(data_dir: Path, camera_id: str, launched: float) -> tuple[float, int]:
    """Poll the camera's current hour directory (and the previous one, at an hour's turn) for
    a segment begun after the launch whose file holds the muxer's header."""
    layout = SegmentLayout(data_dir)
    after_ms = round(launched * 1000)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        now_ms = round(time.time() * 1000)
        for t_ms in (now_ms, now_ms - 3_600_000):
            hour_dir = layout.absolute(layout.relative_path(camera_id, t_ms)).parent
            try:
                entries = list(hour_dir.iterdir())
            except FileNotFoundError:
                continue
            for entry in entries:
                stem = entry.name.split(".", 1)[0]
                if stem.isdigit() and int(stem) >= after_ms and _has_header(entry):
                    return time.time(), int(stem)
        time.sleep(0.01)
    raise TimeoutError(f"no packet written within {TIMEOUT_S} s of the launch")


def _has_header(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:  # renamed or deleted under us: look again
        return False


def _wait(find: Any, what: str) -> tuple[float, str]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise TimeoutError(f"no {what} within {TIMEOUT_S} s")


def restore(data_dir: Path, pristine: Path, facts: StoreFacts) -> None:
    """Put the store back: the index from its pristine copy, the launches' files removed."""
    for suffix in ("", "-wal", "-shm"):
        (data_dir / (INDEX_FILE + suffix)).unlink(missing_ok=True)
    shutil.copyfile(pristine, data_dir / INDEX_FILE)
    layout = SegmentLayout(data_dir)
    first_day = datetime.fromtimestamp(facts.last_end_ms / 1000, UTC).strftime("%Y-%m-%d")
    for camera_id in facts.cameras:
        camera_dir = layout.camera_dir(camera_id)
        for day_dir in sorted(camera_dir.iterdir()) if camera_dir.is_dir() else []:
            if day_dir.name < first_day:
                continue
            for path in day_dir.rglob("*"):
                stem = path.name.split(".", 1)[0]
                if path.is_file() and stem.isdigit() and int(stem) >= facts.last_end_ms:
                    path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="where the store is cached")
    add_output_arguments(parser, "2 cameras x 1 day, one launch")
    args = parser.parse_args(argv)
    env = environment()
    if args.smoke:
        args.cameras, args.days, args.repeat = 2, 1, 1
    data_dir, facts = ensure_store(args.out / "api-data", args.cameras, args.days)
    work = args.out / "launch" / data_dir.name
    work.mkdir(parents=True, exist_ok=True)
    pristine = work / "index.pristine.sqlite3"
    if not pristine.is_file():
        shutil.copyfile(data_dir / INDEX_FILE, pristine)
    camera_id = facts.cameras[0]
    runs = []
    with SimCluster([CameraSpec("bench", "motion")]) as cluster:
        url = cluster.cameras["bench"].url("main", credentials=False)
        config = work / "recorder.toml"
        sections = "retention_days = 3650\n[api]\nhttp_port = 0\nhttps = false\n"
        write_config(config, data_dir, [(camera_id, url, url, "", "")], f"[storage]\n{sections}")
        for _ in range(args.repeat):
            restore(data_dir, pristine, facts)
            try:
                runs.append(launch_once(data_dir, config, camera_id, work / "recorder.log"))
            finally:
                restore(data_dir, pristine, facts)
    result = {
        "rows": facts.rows,
        "cameras": len(facts.cameras),
        "days": facts.days,
        "runs": runs,
        "launch_to_first_packet_s": statistics.median(r["launch_to_first_packet_s"] for r in runs),
        "walk_s": statistics.median(r["walk_s"] for r in runs),
        "smoke": args.smoke,
        "environment": env,
    }
    emit_figures(result, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
