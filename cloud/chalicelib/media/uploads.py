"""`UploadSigner`: short-lived rights to upload objects under one key prefix, as an HTML-form
POST (S3's presigned POST shape: a URL and form fields; the uploader sets the `key` field to
a key under the prefix and sends the bytes as the last field, `file`).

S3 enforces the policy's conditions itself (s3_uploads.py). On the local host the policy is
ours, HMAC-signed with a key generated at first start, and the host's `/uploads` route checks
it (`LocalUploadSigner.check`) before writing: the key under the prefix, the size within
bounds, the policy not expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Protocol

from ..clock import Clock
from ..errors import BadRequest, Forbidden
from ..storage.objects import check_key

LOCAL_POLICY = "skycam-upload/1\n"


@dataclass(frozen=True)
class UploadForm:
    url: str
    fields: dict[str, str]
    prefix: str
    max_bytes: int
    expires_at: int

    def to_wire(self) -> dict[str, object]:
        return {
            "url": self.url,
            "fields": self.fields,
            "prefix": self.prefix,
            "max_bytes": self.max_bytes,
            "expires_at": self.expires_at,
        }


class UploadSigner(Protocol):
    def presign_post(self, prefix: str, max_bytes: int, expires_s: int) -> UploadForm:
        """Rights to POST objects of 1..max_bytes bytes under `prefix` until they expire."""


class LocalUploadSigner:
    def __init__(self, base_url: str, signing_key: bytes, clock: Clock) -> None:
        self._url = base_url.rstrip("/") + "/uploads"
        self._key = signing_key
        self._clock = clock

    def _signature(self, policy: str) -> str:
        return hmac.new(self._key, (LOCAL_POLICY + policy).encode(), hashlib.sha256).hexdigest()

    def presign_post(self, prefix: str, max_bytes: int, expires_s: int) -> UploadForm:
        check_key(prefix.rstrip("/"))
        expires = int(self._clock.now()) + expires_s
        document = {"prefix": prefix, "max": max_bytes, "exp": expires}
        policy = base64.urlsafe_b64encode(json.dumps(document).encode()).decode()
        fields = {"key": prefix + "${filename}", "policy": policy, "signature": "x"}
        fields["signature"] = self._signature(policy)
        return UploadForm(self._url, fields, prefix, max_bytes, expires)

    def check(self, key: str, policy: str, signature: str, size: int) -> str:
        """The key to write if the form's policy allows this upload (Forbidden otherwise)."""
        if not hmac.compare_digest(self._signature(policy), signature):
            raise Forbidden("bad upload signature")
        try:
            document = json.loads(base64.urlsafe_b64decode(policy.encode()))
            prefix, max_bytes, expires = document["prefix"], document["max"], document["exp"]
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise BadRequest("bad upload policy") from exc
        if expires <= self._clock.now():
            raise Forbidden("upload rights expired")
        check_key(key)
        if not key.startswith(prefix) or len(key) == len(prefix):
            raise Forbidden("key outside the upload prefix")
        if not 1 <= size <= max_bytes:
            raise Forbidden(f"object size must be 1..{max_bytes} bytes")
        return key
