"""Motion detection inside the real recorder service: a scripted scene over RTSP, events through
the HTTP API and the WebSocket, timeline markers, thumbnails, and motion-only recording keeping
exactly the event ranges (plus pre- and post-roll) while a continuous camera keeps everything.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from recorder.config import parse_config
from recorder.motion.config import MotionConfig
from recorder.motion.service import DETECTION_SLACK_S
from recorder.storage.model import Segment
from sim import CameraSpec, IdleScene, MotionPass, MotionScene, SimCluster
from tests.e2e.harness import camera_entry, indexed_segments
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow

LOOP_S = 30
PASS = (10.0, 14.0)  # seconds into each loop of the scene
SCENE = MotionScene(
    duration_s=LOOP_S,
    passes=(MotionPass(*PASS, (-0.06, 0.5), (1.06, 0.5), (0.12, 0.22)),),
)
RUN_S = 62.0
PRE_S, POST_S = 2.0, 3.0
END_AFTER_S = MotionConfig().end_after_s
GRACE_S = max(POST_S, PRE_S + DETECTION_SLACK_S)


@dataclass
class Outcome:
    ready_s: float
    stopped_s: float
    events: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    timeline: dict[str, Any]
    thumbnail: httpx.Response | None
    segments: dict[str, list[Segment]]


def passes_between(start_s: float, end_s: float) -> list[tuple[float, float]]:
    """Wall-clock (start, end) of the passes fully shown in [start_s, end_s] (scenes loop on
    multiples of their length since the epoch)."""
    out = []
    for loop in range(math.floor(start_s / LOOP_S), math.ceil(end_s / LOOP_S) + 1):
        a, b = loop * LOOP_S + PASS[0], loop * LOOP_S + PASS[1]
        if a >= start_s and b <= end_s:
            out.append((a, b))
    return out


async def watch(thread: RecorderThread) -> Outcome:
    async with httpx.AsyncClient(base_url=thread.http_url, timeout=10) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": thread.admin_password}
        )
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ws_url = thread.http_url.replace("http", "ws") + f"/api/v1/ws?token={token}"
        notices: list[dict[str, Any]] = []
        ready_s = time.time()
        async with websockets.connect(ws_url) as ws:

            async def collect() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    if str(message.get("type", "")).startswith("event."):
                        notices.append(message)

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(collect(), timeout=RUN_S)
        page = (await client.get("/api/v1/events?limit=500", headers=headers)).json()
        events = list(reversed(page["events"]))
        now_ms = round(time.time() * 1000)
        timeline = (
            await client.get(
                f"/api/v1/cameras/yard/timeline?start={now_ms - 120_000}&end={now_ms}",
                headers=headers,
            )
        ).json()
        thumbnail = None
        with_thumb = [e for e in events if e["has_thumbnail"]]
        if with_thumb:
            url = f"/api/v1/events/{with_thumb[0]['id']}/thumbnail.jpg"
            thumbnail = await client.get(url, headers=headers)
    return Outcome(ready_s, time.time(), events, notices, timeline, thumbnail, {})


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    specs = [CameraSpec("yard", SCENE), CameraSpec("porch", IdleScene())]
    data_dir = tmp_path_factory.mktemp("motion-site")
    with SimCluster(specs) as cluster:
        cams = [
            camera_entry("yard", cluster.cameras["yard"], record_mode="motion"),
            camera_entry("porch", cluster.cameras["porch"]),
        ]
        config = parse_config(
            {
                "data_dir": str(data_dir),
                "cameras": cams,
                "storage": {"segment_seconds": 2, "retention_interval_s": 1},
                "events": {"pre_roll_s": PRE_S, "post_roll_s": POST_S},
                "api": {"http_port": 0, "https": False},
            }
        )
        with RecorderThread(config) as thread:
            result = asyncio.run(watch(thread))
    result.segments = {
        name: asyncio.run(indexed_segments(data_dir, name)) for name in ("yard", "porch")
    }
    yield result


def test_scripted_passes_become_events_at_the_right_times(outcome: Outcome) -> None:
    yard = [e for e in outcome.events if e["camera_id"] == "yard"]
    # Whole passes after start-up, and ended (end_after_s, 5 s of calm) before the query.
    expected = passes_between(outcome.ready_s + 3, outcome.stopped_s - END_AFTER_S - 3)
    assert expected, "the run shows at least one whole pass"
    for start_s, end_s in expected:
        matches = [e for e in yard if abs(e["start_ms"] / 1000 - start_s) <= 1.5]
        assert len(matches) == 1, (start_s, [e["start_ms"] / 1000 for e in yard])
        event = matches[0]
        # Ends with the last sighting: the object's last sliver may be under min_area.
        assert event["end_ms"] is not None, event
        assert abs(event["end_ms"] / 1000 - end_s) <= 1.0
        assert event["record_end_ms"] == event["end_ms"] + POST_S * 1000
        assert event["record_start_ms"] == event["start_ms"] - PRE_S * 1000
        assert event["box"] is not None and 0 < event["score"] <= 1
    # Nothing but the passes: at most one event per pass shown (incl. partly shown ones).
    assert len(yard) <= len(passes_between(outcome.ready_s - LOOP_S, outcome.stopped_s + LOOP_S))
    assert not [e for e in outcome.events if e["camera_id"] == "porch"], "noise is not motion"


def test_events_reach_websocket_clients(outcome: Outcome) -> None:
    started = {n["event"]["id"] for n in outcome.notices if n["type"] == "event.start"}
    yard_ids = {e["id"] for e in outcome.events if e["camera_id"] == "yard"}
    # Every event that started while the client was connected was announced.
    during = {
        e["id"]
        for e in outcome.events
        if e["camera_id"] == "yard" and e["start_ms"] / 1000 > outcome.ready_s + 1
    }
    assert during and during <= started <= yard_ids
    assert {n["event"]["camera_id"] for n in outcome.notices} == {"yard"}


def test_timeline_marks_the_events_and_thumbnails_are_small_jpegs(outcome: Outcome) -> None:
    marked = {m["id"] for m in outcome.timeline["events"]}
    assert marked == {e["id"] for e in outcome.events if e["camera_id"] == "yard"}
    thumbnail = outcome.thumbnail
    assert thumbnail is not None and thumbnail.status_code == 200
    assert thumbnail.content[:2] == b"\xff\xd8" and len(thumbnail.content) <= 50_000


def test_motion_only_recording_keeps_exactly_the_event_ranges(outcome: Outcome) -> None:
    yard = [e for e in outcome.events if e["camera_id"] == "yard" and e["end_ms"] is not None]
    ranges = [(e["record_start_ms"], e["record_end_ms"]) for e in yard]
    segments = outcome.segments["yard"]
    # Old enough for retention to have judged them (grace, plus a segment and a pass of slack).
    settled_ms = (outcome.stopped_s - GRACE_S - 4) * 1000
    judged = [s for s in segments if s.end_ms < settled_ms]
    for segment in judged:
        assert any(s < segment.end_ms and segment.start_ms < e for s, e in ranges), segment
    # ... and every recorded moment of an event's range is still there. Recording begins at the
    # first keyframe after the camera connects (a 1 s GOP, plus slack), and one run lasts the whole
    # test, so a pre-roll reaching back before that has nothing to keep there.
    first_recorded_ms = min(s.run_start_ms for s in segments) + 1000 + 300
    for start_ms, end_ms in ranges:
        if end_ms > settled_ms:
            continue
        start_ms = max(start_ms, first_recorded_ms)
        covering = sorted(
            (s for s in segments if s.start_ms < end_ms and start_ms < s.end_ms),
            key=lambda s: s.start_ms,
        )
        assert covering, (start_ms, end_ms)
        assert covering[0].start_ms <= start_ms and covering[-1].end_ms >= end_ms
        for before, after in itertools.pairwise(covering):
            assert after.start_ms == before.end_ms  # no hole inside the range
    # The continuous camera kept its whole uptime; the motion camera far less.
    porch = outcome.segments["porch"]
    porch_s = sum(s.duration_ms for s in porch) / 1000
    yard_judged_s = sum(s.duration_ms for s in judged) / 1000
    assert porch_s > RUN_S - 10
    assert yard_judged_s < porch_s / 2
