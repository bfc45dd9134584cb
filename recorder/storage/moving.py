"""Moving a file durably, also to another filesystem (where rename fails with EXDEV).

Recordings often live on their own disk while the data directory (index, quarantine) does not.
Across filesystems a move is a copy into a temporary name beside the target, fsync, rename into
place, fsync of the target directory, and only then the unlink of the source: a crash at any
point leaves the source, or a complete target, never only a partial copy.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from recorder.storage.durable import fsync_dir

_COPYING = ".moving"


def move_file(source: Path, target: Path) -> None:
    """Move `source` to `target` (replacing it), durably; raises OSError."""
    try:
        source.replace(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    else:
        fsync_dir(target.parent)
        if source.parent != target.parent:
            fsync_dir(source.parent)
        return
    temporary = target.with_name(target.name + _COPYING)
    try:
        with source.open("rb") as src, temporary.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        temporary.replace(target)
    except OSError:
        temporary.unlink(missing_ok=True)  # (a full target disk): nothing half-copied stays
        raise
    fsync_dir(target.parent)
    source.unlink()
    fsync_dir(source.parent)
