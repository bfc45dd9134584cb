"""`ObjectStore` on local files, for the local relay host. Files are 0600; presigned URLs are
HMAC-signed (key, expiry) and checked by the host's `/objects/` route."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ..clock import Clock
from ..errors import Forbidden, NotFound, StorageError
from ..media.expiry import ExpiryRule, StoredObject, plan_expiry
from .objects import check_key


class LocalObjectStore:
    def __init__(self, root: Path, base_url: str, signing_key: bytes, clock: Clock) -> None:
        self._root = root
        self._base_url = base_url.rstrip("/")
        self._key = signing_key
        self._clock = clock
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self._root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        tmp = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            tmp.replace(path)
        except OSError as exc:
            raise StorageError(f"cannot write object: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read object: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete object: {exc}") from exc

    def list_objects(self) -> list[StoredObject]:
        """Every object with its modification time (for the expiry sweep)."""
        found = []
        for path in self._root.rglob("*"):
            if path.is_file() and not path.name.endswith(".part"):
                with contextlib.suppress(FileNotFoundError):
                    key = path.relative_to(self._root).as_posix()
                    found.append(StoredObject(key, path.stat().st_mtime))
        return found

    def expire(self, rules: Sequence[ExpiryRule]) -> int:
        """Delete the objects past their prefix's age; returns how many."""
        doomed = plan_expiry(self.list_objects(), rules, self._clock.now())
        for key in doomed:
            self.delete(key)
        return len(doomed)

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presign_get(self, key: str, expires_s: int) -> str:
        check_key(key)
        expires = int(self._clock.now()) + expires_s
        sig = self._signature(key, expires)
        return f"{self._base_url}/objects/{quote(key)}?exp={expires}&sig={sig}"

    def open_signed(self, key: str, expires: int, sig: str) -> bytes:
        """The object behind a presigned URL, if its signature holds and it has not expired."""
        if not hmac.compare_digest(self._signature(check_key(key), expires), sig):
            raise Forbidden("bad signature")
        if expires <= self._clock.now():
            raise Forbidden("link expired")
        return self.get(key)
