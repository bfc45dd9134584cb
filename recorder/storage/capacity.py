"""How big the filesystem holding the recordings is, and how much of it is free.

Behind a Protocol so retention tests can play "another program filled the disk" without
filling one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from recorder.storage.retention import DiskCapacity


class CapacityProbe(Protocol):
    def capacity(self) -> DiskCapacity:
        """Current total and free bytes (may block briefly: call it off the event loop)."""


class StatvfsProbe:
    def __init__(self, path: Path) -> None:
        self.path = path

    def capacity(self) -> DiskCapacity:
        st = os.statvfs(self.path)
        # f_bavail, not f_bfree: blocks reserved for root are not ours to fill.
        return DiskCapacity(
            total_bytes=st.f_blocks * st.f_frsize, free_bytes=st.f_bavail * st.f_frsize
        )


class FixedCapacity:
    """A filesystem whose numbers the test sets."""

    def __init__(self, total_bytes: int, free_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.free_bytes = free_bytes

    def capacity(self) -> DiskCapacity:
        return DiskCapacity(self.total_bytes, self.free_bytes)
