"""Upload rights from the relay and the uploader that uses them.

`UploadRights` is the relay's answer to `media_open` / `media_renew` / `thumbs_open`: an HTML
form POST (S3's presigned POST in AWS, the local host's signed form otherwise) allowing objects
of up to `max_bytes` under `prefix` until `expires_at`. `FormUploader` posts one object with
them; `RelayRights` asks the relay for them over the recorder's authenticated connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from recorder.remote.errors import RightsRefused, UploadFailed
from recorder.tunnel.errors import TunnelError
from recorder.tunnel.links import Json

RENEW_MARGIN_S = 60.0  # rights are renewed this long before they expire


@dataclass(frozen=True)
class UploadRights:
    url: str
    fields: dict[str, str]
    prefix: str
    max_bytes: int
    expires_at: float

    @classmethod
    def from_wire(cls, wire: Any) -> UploadRights:
        try:
            return cls(
                str(wire["url"]),
                {str(k): str(v) for k, v in dict(wire["fields"]).items()},
                str(wire["prefix"]),
                int(wire["max_bytes"]),
                float(wire["expires_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RightsRefused(f"malformed upload rights from the relay: {exc}") from exc

    def key(self, name: str) -> str:
        return self.prefix + name

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - RENEW_MARGIN_S


class ObjectUploader(Protocol):
    async def upload(self, rights: UploadRights, name: str, data: bytes) -> None:
        """Store `data` as `rights.prefix + name` (UploadFailed if refused)."""


class FormUploader:
    """Posts the form with httpx; the file goes last, as S3 requires."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self.requests = 0
        self.bytes = 0

    async def upload(self, rights: UploadRights, name: str, data: bytes) -> None:
        if len(data) > rights.max_bytes:
            raise UploadFailed(f"{name}: {len(data)} bytes is over the {rights.max_bytes} allowed")
        fields = {**rights.fields, "key": rights.key(name)}
        try:
            reply = await self._http.post(
                rights.url, data=fields, files={"file": ("blob", data, "application/octet-stream")}
            )
        except httpx.HTTPError as exc:
            raise UploadFailed(f"{name}: {exc}") from exc
        self.requests += 1
        self.bytes += len(data)
        if reply.status_code not in (200, 201, 204):
            raise UploadFailed(f"{name}: the store answered {reply.status_code}")

    async def close(self) -> None:
        await self._http.aclose()


class RelayControl(Protocol):
    async def control(self, message: Json) -> Json: ...


@dataclass(frozen=True)
class MediaGrant:
    msid: str
    rights: UploadRights


class RelayRights:
    """Asks the relay for media upload rights (control messages, docs/ref/tunnel.md)."""

    def __init__(self, relay: RelayControl) -> None:
        self._relay = relay

    async def _ask(self, message: Json) -> Json:
        try:
            return await self._relay.control(message)
        except TunnelError as exc:
            raise RightsRefused(str(exc), str(getattr(exc, "code", ""))) from exc

    async def open(self, account: str, kind: str) -> MediaGrant:
        answer = await self._ask({"t": "media_open", "acct": account, "kind": kind})
        return MediaGrant(str(answer.get("msid")), UploadRights.from_wire(answer.get("upload")))

    async def renew(self, msid: str) -> UploadRights:
        answer = await self._ask({"t": "media_renew", "msid": msid})
        return UploadRights.from_wire(answer.get("upload"))

    async def end(self, msid: str) -> None:
        await self._ask({"t": "media_end", "msid": msid})

    async def thumbnails(self) -> UploadRights:
        answer = await self._ask({"t": "thumbs_open"})
        return UploadRights.from_wire(answer.get("upload"))
