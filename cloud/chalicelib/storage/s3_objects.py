"""`ObjectStore` on an S3 bucket (one prefix per use; the bucket blocks public access)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import NotFound, StorageError
from .objects import check_key


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self._client.put_object(
                Bucket=self._bucket, Key=check_key(key), Body=data, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot write object: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            reply = self._client.get_object(Bucket=self._bucket, Key=check_key(key))
            body: bytes = reply["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no object {key!r}") from exc
            raise StorageError(f"cannot read object: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read object: {exc}") from exc
        return body

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=check_key(key))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot delete object: {exc}") from exc

    def presign_get(self, key: str, expires_s: int) -> str:
        try:
            url: str = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": check_key(key)},
                ExpiresIn=expires_s,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot presign: {exc}") from exc
        return url
