"""Live streams end when nobody watches, and nothing wakes the recorder while none is watched."""

import asyncio
from pathlib import Path

from recorder.cameras.fleet import LIVE_IDLE_CHECK_S, CameraFleet, default_opener
from recorder.capture.health import HealthBoard
from recorder.capture.sink import CollectingSink
from recorder.clock import SteppedClock
from recorder.config import parse_config
from recorder.media.live import IDLE_STOP_S
from recorder.storage.layout import SegmentLayout
from recorder.storage.memory_index import MemorySegmentIndex
from recorder.storage.state import StorageState
from tests.waiting import eventually


def make_fleet(data_dir: Path, clock: SteppedClock) -> CameraFleet:
    config = parse_config(
        {"data_dir": str(data_dir), "cameras": [{"id": "cam1", "main_url": "rtsp://192.0.2.1/"}]}
    )
    return CameraFleet(
        config,
        index=MemorySegmentIndex(clock=clock),
        layout=SegmentLayout(data_dir),
        health=HealthBoard(),
        storage=StorageState(),
        clock=clock,
        opener=default_opener(config),
        sink=CollectingSink(),
        on_failure=lambda exc: None,
    )


async def test_live_streams_are_checked_only_while_watched(tmp_path: Path) -> None:
    clock = SteppedClock(1_800_000_000)
    fleet = make_fleet(tmp_path, clock)
    live = fleet.live_stream("cam1")
    assert fleet.live_stream("cam1") is live
    stop = asyncio.Event()
    task = asyncio.create_task(fleet.end_idle_live(stop))
    try:
        await eventually(lambda: fleet.live_sweeps == 1)
        # The clock stands still, so no timer can fire: only a viewer arriving wakes the loop.
        live.start()
        await eventually(lambda: fleet.live_sweeps == 2 and clock.sleepers == 1)
        assert live.active  # watched: now checked on a timer

        clock.advance(LIVE_IDLE_CHECK_S)
        await eventually(lambda: fleet.live_sweeps == 3 and clock.sleepers == 1)
        assert live.active  # still within IDLE_STOP_S of the request

        clock.advance(IDLE_STOP_S + 1)  # the viewer left long ago
        await eventually(lambda: fleet.live_sweeps == 4)
        assert not live.active
        live.start()  # no timer left running after the last viewer: again only a viewer wakes it
        await eventually(lambda: fleet.live_sweeps == 5 and clock.sleepers == 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
