"""`SessionUploads`: seals and uploads the objects of one media session with its rights,
renewing them from the relay before they expire (each renewal is the relay's grant check).

`uploaded` names the objects the device may fetch now (the lease answer lists them). It is not
a history: the work forgets what left its window (live: parts out of the playlist; playback:
segments far behind the playhead), and at most `MAX_REMEMBERED` names are kept, the oldest
forgotten first, so a session of hours answers each renewal with a short list. A forgotten
object is at worst uploaded again.
"""

from __future__ import annotations

import asyncio

from recorder.clock import Clock
from recorder.remote.sealing import media_aad, seal
from recorder.remote.uploads import ObjectUploader, RelayRights, UploadRights

IN_THREAD_BYTES = 1024 * 1024
MAX_REMEMBERED = 1024  # a 24 h playback at 10 s segments lists 8,640: its window is far less


class SessionUploads:
    def __init__(
        self,
        msid: str,
        key: bytes,
        rights: UploadRights,
        relay: RelayRights,
        uploader: ObjectUploader,
        clock: Clock,
    ) -> None:
        self.msid = msid
        self._key = key
        self._rights = rights
        self._relay = relay
        self._uploader = uploader
        self._clock = clock
        self._renewing = asyncio.Lock()
        self.uploaded: dict[str, None] = {}  # names, oldest first (a dict keeps the order)
        self.bytes = 0

    @property
    def prefix(self) -> str:
        return self._rights.prefix

    async def _current(self) -> UploadRights:
        async with self._renewing:
            if not self._rights.fresh(self._clock.now()):
                self._rights = await self._relay.renew(self.msid)  # RightsRefused: ends it
            return self._rights

    async def put(self, name: str, plaintext: bytes) -> None:
        aad = media_aad(self.msid, name)
        if len(plaintext) > IN_THREAD_BYTES:  # a clip: keep the event loop free meanwhile
            sealed = await asyncio.to_thread(seal, self._key, aad, plaintext)
        else:
            sealed = seal(self._key, aad, plaintext)
        await self._uploader.upload(await self._current(), name, sealed)
        self.mark(name)
        self.bytes += len(sealed)

    def mark(self, name: str) -> None:
        """`name` is there (or need not be tried again)."""
        uploaded = self.uploaded
        uploaded.pop(name, None)  # the newest at the end
        uploaded[name] = None
        while len(uploaded) > MAX_REMEMBERED:
            del uploaded[next(iter(uploaded))]

    def forget(self, name: str) -> None:
        self.uploaded.pop(name, None)
