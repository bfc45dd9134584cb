"""The shapes of media object keys. Nothing in a key names a camera: a media session's objects
live under a random session id, a thumbnail under an opaque camera key the recorder derives.

    media/RID/MSID/NAME          one media session (live, playback, clip)
    thumbnails/RID/CAMKEY/NAME   event thumbnails of one recorder

The prefixes are the ones infra/components/media.py gives lifecycle rules to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequest
from ..ids import recorder_id, session_id
from ..storage.objects import check_key

MEDIA_PREFIX = "media/"
THUMBNAILS_PREFIX = "thumbnails/"
_NAME = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,127}$")


def media_prefix(rid: str, msid: str) -> str:
    return f"{MEDIA_PREFIX}{rid}/{msid}/"


def thumbnails_prefix(rid: str) -> str:
    return f"{THUMBNAILS_PREFIX}{rid}/"


@dataclass(frozen=True)
class ObjectRef:
    """A key a device asks a link for, parsed: whose it is and, for media, which session."""

    key: str
    rid: str
    msid: str | None  # None: a thumbnail


def parse_key(key: object) -> ObjectRef:
    if not isinstance(key, str):
        raise BadRequest("keys must be strings")
    check_key(key)
    parts = key.split("/")
    if parts[0] == "media" and len(parts) == 4 and _NAME.match(parts[3]):
        return ObjectRef(key, recorder_id(parts[1]), session_id(parts[2]))
    if parts[0] == "thumbnails" and len(parts) == 4 and _NAME.match(parts[3]):
        if not _NAME.match(parts[2]):
            raise BadRequest("bad thumbnail key")
        return ObjectRef(key, recorder_id(parts[1]), None)
    raise BadRequest("a key must be media/RID/MSID/NAME or thumbnails/RID/CAMKEY/NAME")
