"""`LinkSigner`: a device's short-lived download URLs for the objects it may read.

The media service decides what a device may read, as a prefix and the keys under it that the
device asked for (`media/RID/MSID/` for its own session, `thumbnails/RID/` for a recorder it
holds a grant on: the relay already signs any key there for that account). The signer only
turns that into URLs:

- `StoreLinks`: each object signed by the object store (the local host's HMAC links; S3
  presigned GETs where no CloudFront stands in front of the bucket);
- `CloudFrontLinks` (cloudfront_links.py): one CloudFront signature per prefix, valid for
  every object under it, through the distribution that serves the PWA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..storage.objects import ObjectStore


class LinkSigner(Protocol):
    def sign(self, scopes: Mapping[str, Sequence[str]], expires_s: int) -> dict[str, str]:
        """A URL for each key in `scopes` (prefix -> keys under it), good for `expires_s`."""


class StoreLinks:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def sign(self, scopes: Mapping[str, Sequence[str]], expires_s: int) -> dict[str, str]:
        return {
            key: self._objects.presign_get(key, expires_s)
            for keys in scopes.values()
            for key in keys
        }
