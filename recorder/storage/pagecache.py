"""Keeping recordings out of the page cache while they are written.

Video is written once and rarely read back soon, so caching it only crowds out what is read
(the index, recent playback) and makes the kernel reclaim memory later. More immediately, every
page a write adds to the cache costs something: on the 2-core VM of the benchmarks, writing
into memory the kernel has not touched lately costs ~12 µs a page, ten times writing into pages
just freed; most likely because the VM returns freed memory to its host (free-page reporting)
and each fresh page then faults on first touch (docs/design/capture.md, "Cost").

So the segment writer starts the write-back of each fragment as soon as the muxer has written it
(`start_writeback`, Linux's `sync_file_range` without waiting) and, one fragment later, drops
those pages once they are clean (`drop`, `posix_fadvise(DONTNEED)`); the next fragment's writes
then reuse the same few hot pages. Both are only advice: where they are missing (not Linux, or
a C library without `sync_file_range`) the pages stay cached until the segment's `fsync`, and
are dropped then.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start write-out of dirty pages, do not wait


def _bind_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name, use_errno=True).sync_file_range
    except (OSError, AttributeError):  # not glibc/musl on Linux
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _bind_sync_file_range()


def start_writeback(fd: int, start: int, end: int) -> bool:
    """Ask the kernel to start writing bytes [start, end) of `fd` to disk, without waiting.
    Returns False where that cannot be asked (the pages then wait for fsync)."""
    if _sync_file_range is None or end <= start:
        return False
    if _sync_file_range(fd, start, end - start, SYNC_FILE_RANGE_WRITE) != 0:
        log.debug("sync_file_range failed: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def drop(fd: int, start: int = 0, end: int = 0) -> None:
    """Drop the clean cached pages of bytes [start, end) of `fd` (end 0: to the end of the
    file). Dirty pages, and pages still being written back, stay."""
    with contextlib.suppress(OSError, AttributeError):  # advice; AttributeError: no fadvise
        os.posix_fadvise(fd, start, max(end - start, 0), os.POSIX_FADV_DONTNEED)


def whole_pages(size: int) -> int:
    """The end of the last whole page below `size`: the part of a growing file that no later
    write touches again (a partly filled last page will be written to again)."""
    return size - size % PAGE
