"""A real, small filesystem for tests of a full disk: tmpfs, or ext4 on a loop-mounted image.

Mounting needs root (CAP_SYS_ADMIN); without it the tests that need one are skipped, never
faked. The filesystem is always unmounted afterwards, lazily if something still holds it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def small_filesystem(
    mountpoint: Path, size_bytes: int, kind: Literal["tmpfs", "ext4"] = "tmpfs"
) -> Iterator[Path]:
    """Mount a `size_bytes` filesystem at `mountpoint` (created), yield it, unmount it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mountpoint.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs",
                    str(mountpoint))  # fmt: skip
    else:
        image = mountpoint.with_name(mountpoint.name + ".img")
        with image.open("wb") as f:
            f.truncate(size_bytes)
        # No root reserve: the recorder's free space is all of it, as statvfs f_bavail shows.
        made = _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
        if made.returncode != 0:
            pytest.skip(f"cannot make an ext4 image: {made.stderr.strip()}")
        done = _run("mount", "-o", "loop", str(image), str(mountpoint))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {kind} filesystem: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if _run("umount", str(mountpoint)).returncode != 0:
            _run("umount", "-l", str(mountpoint))
        if kind == "ext4":
            mountpoint.with_name(mountpoint.name + ".img").unlink(missing_ok=True)


def fill(path: Path, leave_bytes: int = 0, chunk: int = 1 << 20) -> int:
    """Write zeros to `path` until at most `leave_bytes` are free on its filesystem (another
    program filling the disk); returns the bytes written."""
    written = 0
    with path.open("ab", buffering=0) as f:
        while True:
            st = os.statvfs(path.parent)
            free = st.f_bavail * st.f_frsize
            if free <= leave_bytes:
                break
            try:
                f.write(b"\0" * min(chunk, max(free - leave_bytes, 4096)))
            except OSError:
                break
            written = f.tell()
    return written
