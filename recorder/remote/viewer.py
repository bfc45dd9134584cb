"""The reference device's side of remote media (what the PWA's hls.js loader does), for tests,
benches and scripts: start a session through the sealed channel, keep its lease, get download
links from the relay, fetch, open and decode the objects.

    view = await RemoteView.start(session, links, "/api/v1/remote/live", {"camera_id": "front"})
    playlist = parse_playlist((await view.fetch(PLAYLIST)).decode())
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import av
import httpx

from recorder.clock import Clock, SystemClock
from recorder.remote.errors import RemoteMediaError
from recorder.remote.parts import part_name
from recorder.remote.sealing import media_aad, open_sealed, thumbnail_aad, unb64url
from recorder.tunnel.device import DeviceSession

LINK_MARGIN_S = 10.0
PREFETCH = 10
_PART = re.compile(r"^p(\d{8})\.m4s$")


class RelayLinks:
    """Signed download links from the relay (`POST /v1/media/links`, Bearer) and the GETs."""

    def __init__(self, relay_url: str, access_token: str, timeout_s: float = 30) -> None:
        self._base = relay_url.rstrip("/")
        self._bearer = {"Authorization": f"Bearer {access_token}"}
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._cache: dict[str, tuple[str, float]] = {}
        self.link_requests = 0
        self.gets = 0
        self.bytes = 0

    async def links(self, keys: list[str], ahead: list[str] | None = None) -> dict[str, str]:
        """Links for `keys`; when some must be asked for, those for `ahead` come along."""
        now = time.time()

        def stale(key: str) -> bool:
            return self._cache.get(key, ("", 0.0))[1] - LINK_MARGIN_S <= now

        missing = [k for k in keys if stale(k)]
        if missing:
            missing += [k for k in ahead or () if stale(k) and k not in missing]
        for i in range(0, len(missing), 64):
            reply = await self._http.post(
                f"{self._base}/v1/media/links", json={"keys": missing[i : i + 64]},
                headers=self._bearer,
            )  # fmt: skip
            self.link_requests += 1
            if reply.status_code != 200:
                raise RemoteMediaError(f"links refused: {reply.status_code} {reply.text[:200]}")
            body = reply.json()
            for key in [k for k, (_, until) in self._cache.items() if until <= now]:
                del self._cache[key]  # expired: a long view would otherwise keep them all
            for key, url in body["links"].items():
                self._cache[key] = (url if "://" in url else self._base + url, body["expires_at"])
        return {k: self._cache[k][0] for k in keys}

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, None while it does not exist (yet)."""
        url = (await self.links([key]))[key]
        reply = await self._http.get(url)
        self.gets += 1
        if reply.status_code == 404:
            return None
        if reply.status_code != 200:
            raise RemoteMediaError(f"GET {key}: {reply.status_code}")
        self.bytes += len(reply.content)
        return reply.content

    async def thumbnail(self, reference: dict[str, str]) -> bytes | None:
        data = await self.get(reference["key"])
        if data is None:
            return None
        return open_sealed(unb64url(reference["k"]), thumbnail_aad(reference["key"]), data)

    async def close(self) -> None:
        await self._http.aclose()


@dataclass
class RemoteView:
    session: DeviceSession
    relay: RelayLinks
    answer: dict[str, Any]
    position_s: float | None = None
    clock: Clock = field(default_factory=SystemClock)
    _keeper: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(
        cls, session: DeviceSession, relay: RelayLinks, path: str, body: dict[str, Any] | None
    ) -> RemoteView:
        reply = await session.call("POST", path, json_body=body if body is not None else {})
        if reply.status != 201:
            raise RemoteMediaError(f"{path}: {reply.status} {reply.body[:200]!r}")
        view = cls(session, relay, reply.json())
        view._keeper = asyncio.create_task(view._keep())
        return view

    @property
    def msid(self) -> str:
        return str(self.answer["msid"])

    def key_of(self, name: str) -> str:
        return str(self.answer["prefix"]) + name

    async def fetch(self, name: str) -> bytes | None:
        found = _PART.match(name)
        if found is not None:  # live parts are named in order: one links request for ten
            n = int(found.group(1))
            ahead = [self.key_of(part_name(n + i)) for i in range(1, PREFETCH)]
            await self.relay.links([self.key_of(name)], ahead)
        sealed = await self.relay.get(self.key_of(name))
        if sealed is None:
            return None
        return open_sealed(unb64url(self.answer["key"]), media_aad(self.msid, name), sealed)

    async def fetch_when_ready(self, name: str, timeout_s: float = 30) -> bytes:
        deadline = time.monotonic() + timeout_s
        while (data := await self.fetch(name)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not appear")
            await self.clock.sleep(0.1)
        return data

    async def renew(self) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.position_s is None else {"position_s": self.position_s}
        reply = await self.session.call(
            "POST", f"/api/v1/remote/media/{self.msid}/lease", json_body=body
        )
        if reply.status != 200:
            raise RemoteMediaError(f"lease: {reply.status} {reply.body[:200]!r}")
        answer: dict[str, Any] = reply.json()
        return answer

    async def seek(self, position_s: float) -> dict[str, Any]:
        self.position_s = position_s
        return await self.renew()

    async def _keep(self) -> None:
        with contextlib.suppress(RemoteMediaError, Exception):
            while True:
                await self.clock.sleep(float(self.answer["lease_s"]) / 3)
                await self.renew()

    async def stop(self, *, tell: bool = True) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if tell:
            await self.session.call("DELETE", f"/api/v1/remote/media/{self.msid}")


@dataclass(frozen=True)
class PlaylistEntry:
    name: str
    duration_s: float
    init: str
    date_ms: float | None
    independent: bool
    sequence: int


_MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')


def parse_playlist(text: str) -> list[PlaylistEntry]:
    entries: list[PlaylistEntry] = []
    init, date, independent, duration, sequence = "", None, False, 0.0, 0
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif (found := _MAP.match(line)) is not None:
            init = found.group(1)
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            date = datetime.fromisoformat(line.split(":", 1)[1]).timestamp() * 1000
        elif line == "#EXT-X-SKYCAM-INDEPENDENT":
            independent = True
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].rstrip(","))
        elif line and not line.startswith("#"):
            entries.append(PlaylistEntry(line, duration, init, date, independent, sequence))
            sequence += 1
            date, independent = None, False
    return entries


class StreamDecoder:
    """Decodes fMP4 media objects one after the other with one decoder, as a player does
    (a part need not start with a keyframe: the decoder keeps the references)."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._init = b""
        self.frames = 0

    def decode(self, init: bytes, media: bytes) -> int:
        """Frames decoded from `media` (with `init` as its initialization section)."""
        container = av.open(io.BytesIO(init + media), "r", format="mp4")
        try:
            stream = container.streams.video[0]
            if self._codec is None or init != self._init:
                self._codec = av.CodecContext.create(stream.codec_context.name, "r")
                self._codec.extradata = stream.codec_context.extradata
                self._init = init
            count = 0
            for packet in container.demux(stream):
                if packet.size:
                    count += len(self._codec.decode(packet))
        finally:
            container.close()
        self.frames += count
        return count
