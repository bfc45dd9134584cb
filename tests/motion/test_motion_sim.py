"""Motion detection end to end over real RTSP: simulated cameras with known ground truth.

One run of about 30 s serves every test here: five cameras (scripted motion; the same motion
with an exclude zone over its paths; the same with two named include zones; sensor noise only;
lights switching on and off), a `MotionService` with a real SQLite index and event store, and
for the motion camera a second, per-frame observer to check boxes against the truth.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from recorder.clock import SystemClock
from recorder.config import RecorderConfig, parse_config
from recorder.motion.analysis import Box, FrameResult
from recorder.motion.model import EventQuery, EventSource, MotionEvent, NoticeKind
from recorder.motion.service import MotionService
from recorder.motion.worker import MotionSession, MotionWorker
from recorder.storage.sqlite_index import SqliteSegmentIndex
from sim import CameraSpec, IdleScene, LightsScene, LightStep, MotionPass, MotionScene, SimCluster
from sim.ground_truth import GroundTruth

pytestmark = pytest.mark.slow

SCENE_S = 24
MOTION = MotionScene(
    duration_s=SCENE_S,
    passes=(
        MotionPass(3.0, 7.0, (-0.06, 0.45), (1.06, 0.45), (0.12, 0.22)),
        MotionPass(14.0, 18.0, (1.06, 0.72), (-0.06, 0.72), (0.10, 0.20)),
    ),
)
LIGHTS = LightsScene(duration_s=SCENE_S, steps=(LightStep(5.0, 0.0), LightStep(15.0, -0.25)))
EXCLUDE_PATHS = {
    "name": "street",
    "kind": "exclude",
    "points": [[0, 0.25], [1, 0.25], [1, 0.92], [0, 0.92]],
}
HALVES = [
    {"name": "left", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
    {"name": "right", "points": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]},
]
RUN_S = 28.0
WARMUP_S = 3.0  # connect (up to 1 s) and calibrate (1 s) before judging


@dataclass
class Run:
    events: dict[str, list[MotionEvent]]
    notices: list[tuple[float, str, NoticeKind, int]]  # (wall time, camera, kind, event id)
    frames: list[tuple[float, FrameResult]]  # the observer's view of the motion camera
    truth: GroundTruth
    ready: float
    stopped: float
    thumbnails: dict[int, Path] = field(default_factory=dict)


def config(cluster: SimCluster, data: Path) -> RecorderConfig:
    cams = cluster.cameras

    def camera(cam_id: str, sim_name: str, **motion: object) -> dict[str, object]:
        sim = cams[sim_name]
        # Passes are 7 s apart: a short cooldown keeps them separate events (the default
        # of 10 s would rightly merge them).
        motion["cooldown_s"] = 3
        return {"id": cam_id, "main_url": sim.main_url, "sub_url": sim.sub_url, "motion": motion}

    return parse_config(
        {
            "data_dir": str(data),
            "cameras": [
                camera("motion", "motion"),
                camera("excluded", "motion2", zones=[EXCLUDE_PATHS]),
                camera("zoned", "motion3", zones=HALVES),
                camera("idle", "idle"),
                camera("lights", "lights"),
            ],
        }
    )


async def scenario(cluster: SimCluster, data: Path) -> Run:
    cfg = config(cluster, data)
    notices: list[tuple[float, str, NoticeKind, int]] = []
    frames: list[tuple[float, FrameResult]] = []
    clock = SystemClock()
    async with SqliteSegmentIndex(data / "index.sqlite3") as index:
        service = MotionService(cfg, index, clock)
        service.bus.add_listener(
            lambda n: notices.append((time.time(), n.event.camera_id, n.kind, n.event.id))
        )
        motion_cam = next(c for c in cfg.cameras if c.id == "motion")

        def observed(emit: object) -> MotionSession:
            return MotionSession(
                "observer",
                motion_cam.stream_url("sub"),
                service._opener,
                motion_cam.motion,
                clock,
                lambda _signal: None,
                observer=lambda at, result: frames.append((at, result)),
            )

        observer = MotionWorker("observer", observed, lambda _s: None, clock)
        shutdown = asyncio.Event()
        tasks = [
            asyncio.create_task(service.run(shutdown)),
            asyncio.create_task(observer.run(shutdown)),
        ]
        await service.ready.wait()
        ready = time.time()
        await asyncio.sleep(RUN_S)
        stopped = time.time()
        shutdown.set()
        await asyncio.gather(*tasks)
        # Reopen the store (the service closed it) to read what it kept.
        from recorder.motion.store import SqliteEventStore

        async with SqliteEventStore(data / "events.sqlite3") as store:
            page = await store.query(EventQuery(limit=500))
        events: dict[str, list[MotionEvent]] = {c.id: [] for c in cfg.cameras}
        for event in reversed(page.events):
            events[event.camera_id].append(event)
        thumbs = {}
        for event in page.events:
            if event.thumbnail:
                thumbs[event.id] = data / event.thumbnail
    truth = cluster.cameras["motion"].sub_ground_truth
    assert truth is not None
    return Run(events, notices, frames, truth, ready, stopped, thumbs)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    specs = [
        CameraSpec("motion", MOTION),
        CameraSpec("motion2", MOTION),
        CameraSpec("motion3", MOTION),
        CameraSpec("idle", IdleScene()),
        CameraSpec("lights", LIGHTS),
    ]
    with SimCluster(specs) as cluster:
        return asyncio.run(scenario(cluster, tmp_path_factory.mktemp("motion-sim")))


def truth_intervals(truth: GroundTruth, start: float, end: float) -> list[tuple[float, float]]:
    """Absolute (start, end) of every pass shown between `start` and `end` (wall clock)."""
    out = []
    first_loop = math.floor(start / truth.duration_s) - 1
    for loop in range(first_loop, math.ceil(end / truth.duration_s) + 1):
        base = loop * truth.duration_s
        for interval in truth.motion:
            a, b = base + interval.start_s, base + interval.end_s
            if b > start and a < end:
                out.append((a, b))
    return out


def test_scripted_motion_gives_events_at_the_right_times(run: Run) -> None:
    events = run.events["motion"]
    judged_from = run.ready + WARMUP_S
    passes = truth_intervals(run.truth, judged_from, run.stopped)
    complete = [(a, b) for a, b in passes if a >= judged_from and b + 6 <= run.stopped]
    assert complete, "the run must contain at least one whole pass"
    for a, b in complete:
        matches = [e for e in events if abs(e.start_ms / 1000 - a) <= 1.0]
        assert len(matches) == 1, f"pass {a - judged_from:.1f}..{b - judged_from:.1f} s: {events}"
        [event] = matches
        assert event.end_ms is not None and abs(event.end_ms / 1000 - b) <= 1.0
        assert event.source is EventSource.SOFTWARE and event.score > 0
        assert event.record_start_ms == event.start_ms - 5000
        assert event.record_end_ms == event.end_ms + 30_000
    # No event that is not a pass (the ones at the edges of the run may be cut; a frame
    # arrives up to a few hundred ms after it is shown).
    for event in events:
        start = event.start_ms / 1000
        assert any(a - 1 <= start <= b + 0.5 for a, b in passes), f"false event at {start}"


def test_the_start_is_published_within_a_second(run: Run) -> None:
    starts = {
        eid: at
        for at, cam, kind, eid in run.notices
        if cam == "motion" and kind is NoticeKind.START
    }
    judged_from = run.ready + WARMUP_S
    for event in run.events["motion"]:
        truth = [
            a
            for a, _ in truth_intervals(run.truth, judged_from, run.stopped)
            if abs(event.start_ms / 1000 - a) <= 1
        ]
        if truth and truth[0] >= judged_from:
            assert starts[event.id] - truth[0] <= 1.0


def truth_boxes_near(truth: GroundTruth, at: float) -> list[Box]:
    """Truth boxes of the frame that arrived at `at` (sent one frame earlier), give or take
    jitter: a frame may arrive a frame early, or up to 0.4 s late on a loaded 2-core CI machine
    (the camera server, five detectors and this observer share the cores; a frame 0.27 s late
    was seen). Arrival, not PTS, is all the observer reports."""
    out = []
    for shift in (1, 0, 2, -1, 3, 4, 5, 6):
        for box in truth.boxes_at(truth.scene_time(at - shift / truth.fps)):
            out.append(Box(box.nx, box.ny, box.nw, box.nh))
    return out


def test_boxes_overlap_the_truth(run: Run) -> None:
    truth = run.truth
    # The observer connects on its own: judge it once its background has settled.
    judged = [(at, r) for at, r in run.frames if at >= run.ready + WARMUP_S and not r.calibrating]
    moving = [(at, r) for at, r in judged if r.motion]
    assert len(moving) >= 10
    good = 0
    for at, result in moving:
        near = truth_boxes_near(truth, at)
        assert near, f"motion at scene time {truth.scene_time(at):.2f} where nothing moves"
        assert result.box is not None
        if any(result.box.intersection(b) >= 0.5 * b.area() for b in near):
            good += 1
    assert good >= 0.9 * len(moving), f"{good} of {len(moving)} boxes on the object"
    # And when something moves (away from the ends of a pass), it is seen.
    inside = [
        r for at, r in judged
        if all(truth.moving_at(truth.scene_time(at + d)) for d in (-0.5, 0.0, 0.5))
    ]  # fmt: skip
    assert sum(r.motion for r in inside) >= 0.9 * len(inside)


def test_events_have_small_thumbnails(run: Run) -> None:
    assert run.events["motion"]
    for event in run.events["motion"]:
        path = run.thumbnails[event.id]
        assert path.read_bytes()[:2] == b"\xff\xd8" and 1000 < path.stat().st_size <= 50_000


def test_noise_lights_and_excluded_motion_give_no_event(run: Run) -> None:
    assert run.events["idle"] == []
    assert run.events["lights"] == []
    assert run.events["excluded"] == []


def test_include_zones_are_named_on_events(run: Run) -> None:
    events = run.events["zoned"]
    assert events
    # A pass crosses the whole frame: a complete one touches both halves.
    assert any(set(e.zones) == {"left", "right"} for e in events)
    assert all(set(e.zones) <= {"left", "right"} and e.zones for e in events)
