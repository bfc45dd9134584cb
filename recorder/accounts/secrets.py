"""Generated secrets: created once with os.urandom, stored 0600, never in the repository."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """The secret in `path`, created atomically (O_EXCL, mode 0600) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) < nbytes:
            raise ValueError(f"{path} is truncated: remove it to generate a new one") from None
        return data
    secret = secrets.token_bytes(nbytes)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


def write_secret_file(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600, replacing any older file), for a person to read once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
