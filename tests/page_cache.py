"""Reading what the page cache holds of a file (util-linux's `fincore`), for tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def cached_pages(path: Path) -> int:
    out = subprocess.run(
        ["fincore", "--noheadings", "--bytes", "--output", "PAGES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def page_cache_applies(directory: Path) -> bool:
    """tmpfs keeps files only in the page cache: nothing to drop there."""
    best, fstype = "", ""
    where = directory.resolve()
    for line in Path("/proc/mounts").read_text().splitlines():
        _dev, mount, kind, *_ = line.split()
        if where.is_relative_to(mount) and len(mount) > len(best):
            best, fstype = mount, kind
    return fstype not in ("tmpfs", "ramfs", "")


def skip_unless_observable(directory: Path) -> None:
    if shutil.which("fincore") is None or not page_cache_applies(directory):
        pytest.skip("needs fincore and a disk-backed file system")
