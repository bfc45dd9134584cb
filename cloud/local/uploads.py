"""`POST /uploads` on the local host: the HTML-form upload that S3's presigned POST takes in
AWS (fields `key`, `policy`, `signature`, then `file`), checked against the policy the relay
signed (cloud/chalicelib/media/uploads.py) before anything is written. Answers 204 as S3 does."""

from __future__ import annotations

from email import policy as email_policy
from email.parser import BytesParser

from ..chalicelib.errors import BadRequest
from ..chalicelib.media.uploads import LocalUploadSigner
from ..chalicelib.storage.local_objects import LocalObjectStore


def form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (the standard library's MIME parser)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadRequest("the upload must be multipart/form-data")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadRequest("the upload must be multipart/form-data")
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def accept_upload(
    signer: LocalUploadSigner, objects: LocalObjectStore, content_type: str, body: bytes
) -> str:
    """Store the form's file if its policy allows it; returns the key written."""
    fields = form_fields(content_type, body)
    try:
        key = fields["key"].decode()
        policy = fields["policy"].decode()
        signature = fields["signature"].decode()
        data = fields["file"]
    except (KeyError, UnicodeDecodeError) as exc:
        raise BadRequest("fields key, policy, signature and file are needed") from exc
    signer.check(key, policy, signature, len(data))
    objects.put(key, data)
    return key
