"""Helpers to run the real recorder against simulated cameras inside a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from recorder.capture.health import CameraHealth
from recorder.config import RecorderConfig, parse_config
from recorder.service import Recorder
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment
from recorder.storage.sqlite_index import SqliteSegmentIndex
from sim import SimCamera


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout_s: float, step_s: float = 0.1
) -> bool:
    """Poll `predicate` until it holds (True) or `timeout_s` has passed (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step_s)
    return False


def camera_entry(cam_id: str, camera: SimCamera, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": cam_id, "main_url": camera.url("main", credentials=False)}
    entry["sub_url"] = camera.url("sub", credentials=False)
    if camera.spec.user is not None:
        entry["username"] = camera.spec.user
        entry["password"] = camera.spec.password
    return entry | extra


# Tests never take the default ports: a demo or another test may hold them.
TEST_API = {"http_port": 0, "https": False}


def make_config(data_dir: Path, cameras: list[dict[str, Any]], **sections: Any) -> RecorderConfig:
    sections.setdefault("api", TEST_API)
    return parse_config({"data_dir": str(data_dir), "cameras": cameras, **sections})


@dataclass
class HealthLog:
    """Every health state change, with the monotonic time it happened."""

    changes: list[tuple[float, CameraHealth]] = field(default_factory=list)

    def __call__(self, health: CameraHealth) -> None:
        self.changes.append((time.monotonic(), health))

    def of(self, camera_id: str) -> list[tuple[float, CameraHealth]]:
        return [(t, h) for t, h in self.changes if h.camera_id == camera_id]


@asynccontextmanager
async def running(recorder: Recorder) -> AsyncIterator[Recorder]:
    shutdown = asyncio.Event()
    task = asyncio.create_task(recorder.run(shutdown))
    ready = asyncio.create_task(recorder.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # raise what stopped it
    try:
        yield recorder
    finally:
        shutdown.set()
        await asyncio.wait_for(task, timeout=30)


async def indexed_segments(data_dir: Path, camera_id: str) -> list[Segment]:
    async with SqliteSegmentIndex(data_dir / "index.sqlite3") as index:
        return await index.segments_between(camera_id, 0, 2**62)


def disk_segments(data_dir: Path) -> set[str]:
    root = data_dir / "recordings"
    return {str(p.relative_to(data_dir)) for p in root.rglob("*.mp4")}


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def assert_disk_and_index_agree(data_dir: Path, segments: list[Segment]) -> None:
    layout = SegmentLayout(data_dir)
    for segment in segments:
        facts = inspect_fmp4(layout.absolute(segment.path))
        assert facts.complete, (segment.path, facts.problem)
        assert facts.size == segment.bytes
    assert not list((data_dir / "recordings").rglob("*.partial"))
