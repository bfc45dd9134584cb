"""`UploadSigner` on S3: a presigned POST whose policy S3 enforces (the key must start with the
session prefix, the body must be 1..max bytes, the policy expires)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..clock import Clock
from ..errors import StorageError
from .uploads import UploadForm


class S3UploadSigner:
    def __init__(self, client: Any, bucket: str, clock: Clock) -> None:
        self._client = client
        self._bucket = bucket
        self._clock = clock

    def presign_post(self, prefix: str, max_bytes: int, expires_s: int) -> UploadForm:
        try:
            post = self._client.generate_presigned_post(
                Bucket=self._bucket,
                Key=prefix + "${filename}",
                Conditions=[
                    ["starts-with", "$key", prefix],
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires_s,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot presign an upload: {exc}") from exc
        fields = {str(k): str(v) for k, v in post["fields"].items()}
        expires = int(self._clock.now()) + expires_s
        return UploadForm(str(post["url"]), fields, prefix, max_bytes, expires)
