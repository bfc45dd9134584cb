"""`ObjectStore`: opaque blobs (ciphertext only: encrypted thumbnails, remote media parts) by key,
with short-lived signed download URLs. S3 in AWS, files on the local host."""

from __future__ import annotations

import re
from typing import Protocol

from ..errors import BadRequest

_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")


def check_key(key: str) -> str:
    """Keys are slash-separated names of safe characters; no `..`, no leading slash."""
    if len(key) > 512 or not _KEY.match(key) or ".." in key:
        raise BadRequest(f"bad object key {key!r}")
    return key


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store (replace) the object."""

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if there is none."""

    def delete(self, key: str) -> None:
        """Remove the object; removing an absent object is not an error."""

    def presign_get(self, key: str, expires_s: int) -> str:
        """A URL that downloads the object without other credentials until it expires."""
