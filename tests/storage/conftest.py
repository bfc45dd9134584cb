"""Fixtures for storage tests: real fMP4 clips made by ffmpeg, segment files laid out on disk."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from recorder.clock import FakeClock
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.index import SegmentIndex
from recorder.storage.layout import SegmentLayout
from recorder.storage.memory_index import MemorySegmentIndex
from recorder.storage.model import NewSegment
from recorder.storage.sqlite_index import SqliteSegmentIndex

FFMPEG = shutil.which("ffmpeg")
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def _make_clip(out: Path, seconds: int, *, audio: bool = False) -> Path:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed")
    cmd = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi"]
    cmd += ["-i", "testsrc=size=160x120:rate=15"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-c:a", "aac"]
    cmd += ["-t", str(seconds), "-c:v", "libx264", "-g", "15", "-bf", "0"]
    cmd += ["-movflags", FRAGMENTED, str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10 s fMP4, one fragment per 1 s GOP, as capture writes them."""
    return _make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", 10)


@pytest.fixture(scope="session")
def clip_with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_clip(tmp_path_factory.mktemp("clips") / "clip_audio.mp4", 4, audio=True)


@pytest.fixture
def layout(tmp_path: Path) -> SegmentLayout:
    return SegmentLayout(tmp_path / "data")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0 / 1000)


def place_segment(
    layout: SegmentLayout,
    clip: Path,
    camera_id: str,
    start_ms: int,
    *,
    run_start_ms: int | None = None,
) -> NewSegment:
    """Copy `clip` to where capture would have finished a segment, and describe it."""
    relative = layout.relative_path(camera_id, start_ms)
    target = layout.absolute(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, target)
    info = inspect_fmp4(target)
    return NewSegment(
        camera_id=camera_id,
        run_start_ms=start_ms if run_start_ms is None else run_start_ms,
        start_ms=start_ms,
        end_ms=start_ms + info.duration_ms,
        bytes=info.size,
        path=relative,
        init_bytes=info.init_bytes,
        keyframes=info.keyframes,
        video_codec=info.video_codec,
        has_audio=info.has_audio,
    )


def new_segment(
    camera_id: str, start_ms: int, duration_ms: int = 10_000, **kw: object
) -> NewSegment:
    """A segment description without a file, for index-only tests."""
    fields: dict[str, object] = {
        "camera_id": camera_id,
        "run_start_ms": start_ms,
        "start_ms": start_ms,
        "end_ms": start_ms + duration_ms,
        "bytes": 1000,
        "path": SegmentLayout(Path()).relative_path(camera_id, start_ms),
        "init_bytes": 10,
    }
    fields.update(kw)
    return NewSegment(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "memory"])
async def any_index(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[SegmentIndex]:
    """Each index implementation, open and empty: contract tests run against all of them."""
    index: SegmentIndex
    if request.param == "sqlite":
        index = SqliteSegmentIndex(tmp_path / "index.db", clock=clock)
    else:
        index = MemorySegmentIndex(clock=clock)
    async with index:
        yield index


@pytest.fixture
async def sqlite_index(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteSegmentIndex]:
    async with SqliteSegmentIndex(tmp_path / "data" / "index.db", clock=clock) as index:
        yield index
