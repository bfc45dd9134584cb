"""Page-cache hygiene for recordings, checked with util-linux's `fincore` on a real file system."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.storage import pagecache
from tests.page_cache import cached_pages, skip_unless_observable

MB = 1024 * 1024


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    skip_unless_observable(tmp_path)
    return tmp_path


@contextlib.contextmanager
def written(path: Path, size: int) -> Iterator[int]:
    """A file of `size` random bytes, written in 32 KiB pieces as FFmpeg's I/O layer writes
    (one big write may be cached as one large folio, which the kernel drops only whole); yields
    its descriptor, open for reading and writing."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        data = os.urandom(size)
        for offset in range(0, size, 32 * 1024):
            os.write(fd, data[offset : offset + 32 * 1024])
        yield fd
    finally:
        os.close(fd)


def test_drop_after_fsync_leaves_nothing_cached(directory: Path):
    path = directory / "segment.mp4"
    with written(path, 2 * MB) as fd:
        assert cached_pages(path) == 2 * MB // pagecache.PAGE
        os.fsync(fd)
        pagecache.drop(fd)
        assert cached_pages(path) == 0


def test_dirty_pages_stay_until_written_back(directory: Path):
    path = directory / "segment.mp4"
    with written(path, 1 * MB) as fd:
        pagecache.drop(fd)  # dirty: the kernel keeps them
        assert cached_pages(path) == 1 * MB // pagecache.PAGE
        assert pagecache.start_writeback(fd, 0, 1 * MB)
        deadline = time.monotonic() + 10
        while cached_pages(path) and time.monotonic() < deadline:
            time.sleep(0.01)
            pagecache.drop(fd, 0, 1 * MB)  # dropped as soon as the write-back is done
        assert cached_pages(path) == 0


def test_drop_keeps_pages_outside_the_range(directory: Path):
    path = directory / "segment.mp4"
    with written(path, 1 * MB) as fd:
        os.fsync(fd)
        pagecache.drop(fd, 0, MB // 2)
        assert cached_pages(path) == MB // 2 // pagecache.PAGE


@pytest.mark.parametrize(("size", "expected"), [(0, 0), (4095, 0), (4096, 4096), (10_000, 8192)])
def test_whole_pages_never_includes_a_partly_written_page(size: int, expected: int):
    if pagecache.PAGE != 4096:
        pytest.skip("page size is not 4 KiB here")
    assert pagecache.whole_pages(size) == expected
