"""Motion benchmark: our detector against a plain implementation of the original pipeline.

    .venv/bin/python bench/motion.py --json bench/out/motion.json

1. Accuracy: six simulated cameras (bench/motion_scenes.py: 24 labelled passes per loop,
   excluded-zone motion, sensor noise, six lighting steps) for one whole loop, through the real
   `MotionService` (RTSP, decode, analysis, events in SQLite). Event precision and recall,
   start latency (when the start is published, against the truth) and false events. The
   baseline runs on the same streams at the same time, through the same hysteresis.
2. Cost: CPU-seconds per camera-second, decode included, of each pipeline alone in a child
   process, at 1, 4 and 10 cameras (median of `--windows` windows of `--seconds`).

The baseline is the original pipeline: every frame decoded and converted, 21-pixel Gaussian
blur, difference against the previous frame, threshold 25, dilate, contours, minimum area.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import psutil

from bench.motion_scenes import BenchCamera, Detected, Score, cost_scene, scene_set, score
from bench.output import add_output_arguments, environment, write_json
from recorder.capture.opener import PyAVStreamOpener
from recorder.clock import SystemClock
from recorder.config import parse_config
from recorder.errors import StreamError
from recorder.motion.activity import ActivityStarted, ActivityTracker, Signal
from recorder.motion.analysis import Box, FrameResult
from recorder.motion.config import MotionConfig
from recorder.motion.lifecycle import ChangeKind, EventLifecycle
from recorder.motion.model import EventNotice, EventQuery, NoticeKind
from recorder.motion.service import MotionService
from recorder.motion.store import SqliteEventStore
from recorder.motion.worker import MotionSession, MotionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from sim import CameraSpec, SimCluster

WARMUP_S = 3.0  # connect and calibrate before judging
TAIL_S = 7.0  # a pass must end this long before the window does (end_after_s + slack)
TARGETS = {"precision": 0.95, "recall": 0.95, "start_latency_s": 1.0, "cpu_s_per_camera_s": 0.05}


# -- the baseline pipeline ------------------------------------------------------------------


class BaselineAnalyzer:
    """The original pipeline, per decoded frame: to 320 px wide grey, 21 px Gaussian blur,
    difference against the previous frame, threshold 25, dilate, contours over 0.2 %."""

    WIDTH = 320

    def __init__(self) -> None:
        self._previous: Any = None

    def analyze(self, frame: Any) -> FrameResult:
        image = frame.to_ndarray(format="bgr24")
        height = round(image.shape[0] * self.WIDTH / image.shape[1])
        small = cv2.resize(image, (self.WIDTH, height))
        gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (21, 21), 0)
        previous, self._previous = self._previous, gray
        if previous is None:
            return FrameResult(False)
        _, mask = cv2.threshold(cv2.absdiff(previous, gray), 25, 255, cv2.THRESH_BINARY)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        area = 0.002 * mask.size
        moving = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= area]
        if not moving:
            return FrameResult(False)
        x0 = min(x for x, _, _, _ in moving)
        y0 = min(y for _, y, _, _ in moving)
        x1 = max(x + w for x, _, w, _ in moving)
        y1 = max(y + h for _, y, _, h in moving)
        w, h = mask.shape[1], mask.shape[0]
        return FrameResult(True, 0.01, Box(x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h))


def run_baseline(
    url: str, stop: threading.Event, on_result: Callable[[float, FrameResult], None]
) -> None:
    """Decode every frame of `url` with PyAV's defaults and analyse it, until `stop`."""
    while not stop.is_set():
        try:
            stream = PyAVStreamOpener().open(url)
        except StreamError:
            time.sleep(1)
            continue
        analyzer = BaselineAnalyzer()
        try:
            for packet in stream.packets():
                if stop.is_set():
                    break
                if packet.stream is not stream.video:
                    continue
                arrived = time.time()
                for frame in packet.decode():
                    on_result(arrived, analyzer.analyze(frame))
        except StreamError:
            continue
        finally:
            stream.close()


class BaselineEvents:
    """The baseline's frames through the same hysteresis and lifecycle as ours (k = 3 frames
    of the 15 fps stream, the same 0.2 s as 1 frame at 5 fps; 5 s of calm; 10 s cooldown)."""

    def __init__(self) -> None:
        self._tracker = ActivityTracker(start_frames=3, end_after_s=5.0)
        self._lifecycle = EventLifecycle(cooldown_s=10.0, max_event_s=300.0)
        self.events: list[Detected] = []
        self._lock = threading.Lock()

    def feed(self, at: float, result: FrameResult) -> None:
        with self._lock:
            for signal in self._tracker.feed(at, ActivityTracker.sighting(at, result)):
                self._apply(signal, at)

    def _apply(self, signal: Signal, at: float) -> None:
        for change in self._lifecycle.on_signal("baseline", signal):
            if change.kind is ChangeKind.OPENED:
                assert isinstance(signal, ActivityStarted)
                self.events.append(Detected(change.state.start, at))


# -- accuracy -------------------------------------------------------------------------------


async def accuracy(
    cluster: SimCluster, cameras: list[BenchCamera], seconds: float
) -> dict[str, Any]:
    sims = cluster.cameras
    raw = {
        "data_dir": tempfile.mkdtemp(prefix="bench-motion-"),
        "cameras": [
            {
                "id": cam.name,
                "main_url": sims[cam.name].main_url,
                "sub_url": sims[cam.name].sub_url,
                "motion": {"zones": list(cam.zones)},
            }
            for cam in cameras
        ],
    }
    config = parse_config(raw)
    published: dict[int, float] = {}
    # The baseline runs in its own process, so the two pipelines do not share a GIL.
    baseline = Child("baseline-events", [sims[c.name].sub_url for c in cameras])
    async with SqliteSegmentIndex(config.data_dir / "index.sqlite3") as index:
        service = MotionService(config, index, SystemClock())

        def note_start(notice: EventNotice) -> None:
            if notice.kind is NoticeKind.START:
                published.setdefault(notice.event.id, time.time())

        service.bus.add_listener(note_start)
        shutdown = asyncio.Event()
        task = asyncio.create_task(service.run(shutdown))
        await service.ready.wait()
        await asyncio.to_thread(baseline.start)
        started = time.time()
        await asyncio.sleep(WARMUP_S + seconds + TAIL_S)
        ended = time.time()
        shutdown.set()
        baseline_events = await asyncio.to_thread(baseline.finish)
        await task
        async with SqliteEventStore(config.data_dir / "events.sqlite3") as store:
            page = await store.query(EventQuery(limit=500))
    ours, base = Score(), Score()
    judged_from = started + WARMUP_S
    for i, cam in enumerate(cameras):
        truth = sims[cam.name].sub_ground_truth
        mine = [
            Detected(e.start_ms / 1000, published.get(e.id))
            for e in page.events
            if e.camera_id == cam.name
        ]
        ours.add(score(cam, mine, truth, judged_from, ended, TAIL_S))
        found = [Detected(start, at) for start, at in baseline_events[i]]
        base.add(score(cam, found, truth, judged_from, ended, TAIL_S))
    return {"ours": ours.summary(), "baseline": base.summary()}


# -- cost -----------------------------------------------------------------------------------


def child(impl: str, urls: list[str]) -> int:
    """Run one pipeline on `urls` until stdin closes; print "ready" once every stream decodes.
    `baseline-events` then prints the baseline's events, one list per URL, as JSON."""
    counts = [0] * len(urls)
    stop = threading.Event()
    events = [BaselineEvents() for _ in urls]

    def counter(i: int) -> Callable[[float, FrameResult], None]:
        def count(at: float, result: FrameResult) -> None:
            counts[i] += 1
            if impl == "baseline-events":
                events[i].feed(at, result)

        return count

    threads: list[threading.Thread] = []
    if impl.startswith("baseline"):
        threads = [
            threading.Thread(target=run_baseline, args=(url, stop, counter(i)), daemon=True)
            for i, url in enumerate(urls)
        ]
    else:
        clock = SystemClock()

        def session_for(i: int, url: str) -> Callable[[Callable[[Signal], None]], MotionSession]:
            return lambda emit: MotionSession(
                f"c{i}", url, PyAVStreamOpener(), MotionConfig(), clock, emit, observer=counter(i)
            )

        async def run_ours() -> None:
            shutdown = asyncio.Event()
            workers = [
                MotionWorker(f"c{i}", session_for(i, url), lambda _s: None, clock)
                for i, url in enumerate(urls)
            ]
            tasks = [asyncio.create_task(w.run(shutdown)) for w in workers]
            await asyncio.to_thread(stop.wait)
            shutdown.set()
            await asyncio.gather(*tasks)

        threads = [threading.Thread(target=lambda: asyncio.run(run_ours()), daemon=True)]
    for thread in threads:
        thread.start()
    while not all(counts):
        time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes it
    stop.set()
    for thread in threads:  # let OpenCV and FFmpeg finish their frame before exiting
        thread.join(timeout=10)
    if impl == "baseline-events":
        print(json.dumps([[(e.start, e.published) for e in ev.events] for ev in events]))
    return 0


class Child:
    """A pipeline in a child process (python -m bench.motion --child IMPL --url ...)."""

    def __init__(self, impl: str, urls: list[str]) -> None:
        self.impl = impl
        self.urls = urls
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> psutil.Process:
        command = [sys.executable, "-m", "bench.motion", "--child", self.impl]
        for url in self.urls:
            command += ["--url", url]
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.finish()
            raise RuntimeError(f"{self.impl} child did not start: {line!r}")
        return psutil.Process(self.process.pid)

    def finish(self) -> list[list[tuple[float, float]]]:
        process = self.process
        if process is None:
            return []
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        try:
            out = process.stdout.read()
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return []
        found: list[list[tuple[float, float]]] = json.loads(out) if out.strip() else []
        return found


def measure(impl: str, urls: list[str], windows: int, seconds: float) -> dict[str, Any]:
    """CPU of a child running `impl` on `urls`, per camera-second, median of the windows."""
    running = Child(impl, urls)
    watched = running.start()
    try:
        time.sleep(2.0)  # past the calibration and the decoders' start-up
        per_window = []
        for _ in range(windows):
            before = watched.cpu_times()
            t0 = time.monotonic()
            time.sleep(seconds)
            after = watched.cpu_times()
            used = (after.user - before.user) + (after.system - before.system)
            per_window.append(used / ((time.monotonic() - t0) * len(urls)))
    finally:
        running.finish()
    return {
        "cpu_s_per_camera_s": round(statistics.median(per_window), 4),
        "windows": [round(v, 4) for v in per_window],
    }


def cost(counts: list[int], windows: int, seconds: float) -> dict[str, Any]:
    specs = [CameraSpec(f"cost{i}", cost_scene()) for i in range(max(counts))]
    out: dict[str, Any] = {}
    with SimCluster(specs) as cluster:
        urls = [cluster.cameras[s.name].sub_url for s in specs]
        for n in counts:
            ours = measure("ours", urls[:n], windows, seconds)
            time.sleep(1.0)
            base = measure("baseline", urls[:n], windows, seconds)
            time.sleep(1.0)
            ratio = ours["cpu_s_per_camera_s"] / base["cpu_s_per_camera_s"]
            out[str(n)] = {"ours": ours, "baseline": base, "cpu_ratio": round(ratio, 3)}
            print(f"{n:>3} camera(s): ours {ours['cpu_s_per_camera_s']:.4f}  baseline "
                  f"{base['cpu_s_per_camera_s']:.4f} CPU-s per camera-s  ratio {ratio:.2f}",
                  flush=True)  # fmt: skip
    return out


# -- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/motion.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_output_arguments(parser, "accuracy over 20 s, cost at 1 camera over one 3 s window")
    parser.add_argument("--cameras", default="1,4,10", help="camera counts for the cost runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a cost window")
    parser.add_argument("--windows", type=int, default=3, help="cost windows per run (median)")
    parser.add_argument("--loop", type=float, default=150.0, help="accuracy run length (s)")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument(
        "--child", choices=("ours", "baseline", "baseline-events"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.url)
    if args.smoke:
        args.loop, args.cameras, args.windows, args.seconds = 20.0, "1", 1, 3.0
    counts = [int(n) for n in args.cameras.split(",")]
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count()},
        "smoke": args.smoke,
        "environment": environment(),
    }
    if not args.skip_accuracy:
        cameras = scene_set()
        with SimCluster([c.spec for c in cameras]) as cluster:
            found = asyncio.run(accuracy(cluster, cameras, args.loop))
        result.update(found["ours"])
        result["baseline_accuracy"] = found["baseline"]
        print(json.dumps({"ours": found["ours"], "baseline": found["baseline"]}, indent=1))
    if not args.skip_cost:
        by_count = cost(counts, args.windows, args.seconds)
        top = by_count[str(max(counts))]
        result["cpu_s_per_camera_s"] = top["ours"]["cpu_s_per_camera_s"]
        result["baseline_cpu_s_per_camera_s"] = top["baseline"]["cpu_s_per_camera_s"]
        result["cpu_ratio"] = top["cpu_ratio"]
        result["cpu_at_cameras"] = by_count
    result["targets"] = TARGETS
    result["targets_met"] = _targets_met(result)
    write_json(result, args.json, indent=1)
    print(json.dumps(result["targets_met"]))
    return 0


def _targets_met(result: dict[str, Any]) -> dict[str, bool]:
    met: dict[str, bool] = {}
    if "precision" in result:
        met["precision"] = result["precision"] >= TARGETS["precision"]
        met["recall"] = result["recall"] >= TARGETS["recall"]
        latency = result["start_latency_s"]
        met["start_latency_s"] = latency is not None and latency <= TARGETS["start_latency_s"]
        by_scene = result["false_events_by_scene"]
        met["no_events_on_noise_and_lighting"] = not by_scene.get("noise") and not by_scene.get(
            "lighting"
        )
    if "cpu_s_per_camera_s" in result:
        met["cpu_s_per_camera_s"] = result["cpu_s_per_camera_s"] <= TARGETS["cpu_s_per_camera_s"]
        met["cpu_ratio_under_1"] = result["cpu_ratio"] < 1
    return met


if __name__ == "__main__":
    sys.exit(main())
