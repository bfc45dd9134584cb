"""Live streams end when nobody watches, and nothing wakes the recorder while none is watched."""

import asyncio
from pathlib import Path

import pytest

from recorder.cameras import fleet as fleet_module
from recorder.cameras.fleet import CameraFleet, default_opener
from recorder.capture.health import HealthBoard
from recorder.clock import FakeClock
from recorder.config import parse_config
from recorder.media.live import IDLE_STOP_S, LiveStream
from recorder.storage.layout import SegmentLayout
from recorder.storage.memory_index import MemorySegmentIndex
from recorder.storage.state import StorageState

CHECK_S = 0.02


def make_fleet(data_dir: Path, clock: FakeClock) -> CameraFleet:
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
        on_segment=lambda segment: None,
        on_failure=lambda exc: None,
    )


def count_checks(live: LiveStream) -> list[bool]:
    """Record each idle check of `live` (its results, in order)."""
    checks: list[bool] = []
    check = live.stop_if_idle

    def counted(idle_s: float = IDLE_STOP_S) -> bool:
        checks.append(check(idle_s))
        return checks[-1]

    live.stop_if_idle = counted  # type: ignore[method-assign]
    return checks


async def test_live_streams_are_checked_only_while_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_module, "LIVE_IDLE_CHECK_S", CHECK_S)
    clock = FakeClock(1_800_000_000)
    fleet = make_fleet(tmp_path, clock)
    live = fleet.live_stream("cam1")
    assert fleet.live_stream("cam1") is live
    checks = count_checks(live)
    stop = asyncio.Event()
    task = asyncio.create_task(fleet.end_idle_live(stop))
    try:
        await asyncio.sleep(10 * CHECK_S)
        assert checks == [False], "an unwatched stream was checked more than once"

        live.start()  # a viewer arrives
        await asyncio.sleep(10 * CHECK_S)
        assert len(checks) >= 4 and live.active

        clock.advance(IDLE_STOP_S + 1)  # and leaves
        await asyncio.sleep(5 * CHECK_S)
        assert not live.active and True in checks
        ended = len(checks)
        await asyncio.sleep(10 * CHECK_S)
        assert len(checks) == ended, "checks went on after the last viewer left"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=1)
