"""`ThumbnailPublisher`: each event's thumbnail, sealed and stored by the relay, for remote
event lists (and, later, Web Push payloads) to reference.

While the link to the relay is down nothing can be uploaded: the events themselves and their
JPEGs wait on disk (the event store), and at the next connect `catch_up` uploads the thumbnails
of the events since the link went down (after a start: of the last `CATCH_UP_S`), the newest
`CATCH_UP_MAX` of them; older ones are dropped and counted. A push delivered from the outbox
after the link returns (push/service.py) then names a thumbnail the relay has.

Object key: `thumbnails/RID/CAMKEY/e<event id>`: CAMKEY is the recorder's opaque name for the
camera (`MediaSecret.camera_key`), never its id. The key that opens a thumbnail is derived
from the media secret and the object key, so `reference()` can hand it to an allowed device
without a table of keys. Thumbnails are uploaded when an event's thumbnail appears or improves
(bus notices) and, for a listed event whose JPEG this process has not uploaded (a restart,
a better frame, an object near expiry), on demand before the list is answered. The relay's
lifecycle rule expires them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable

from recorder.clock import Clock
from recorder.errors import Unavailable
from recorder.motion.model import EventNotice, EventQuery, MotionEvent
from recorder.motion.service import MotionService
from recorder.remote.errors import RemoteMediaError, RightsRefused
from recorder.remote.sealing import MediaSecret, b64url, seal, thumbnail_aad
from recorder.remote.uploads import ObjectUploader, RelayRights, UploadRights

log = logging.getLogger(__name__)
REUPLOAD_S = 7 * 86400  # well inside the relay's expiry (30 days by default)
MAX_REMEMBERED = 4096  # events whose upload is remembered (a busy week of a few cameras)
CATCH_UP_MAX = 200  # thumbnails uploaded at a reconnect, newest first
CATCH_UP_S = 3600  # after a start, how far back events may have missed their upload


class ThumbnailPublisher:
    def __init__(
        self,
        rid: str,
        secret: MediaSecret,
        relay: RelayRights,
        uploader: ObjectUploader,
        motion: MotionService,
        clock: Clock,
        connected: Callable[[], bool],
    ) -> None:
        self._rid = rid
        self._secret = secret
        self._relay = relay
        self._uploader = uploader
        self._motion = motion
        self._clock = clock
        self._connected = connected
        self._rights: UploadRights | None = None
        self._lock = asyncio.Lock()
        # event id -> (JPEG digest, when), oldest upload first. Only the last REUPLOAD_S and
        # at most MAX_REMEMBERED are kept: what is forgotten would be uploaded again anyway.
        self._uploaded: dict[int, tuple[bytes, float]] = {}
        self.uploads = 0
        self.missed = 0  # event notices the link was down for (caught up at the next connect)
        self.dropped = 0  # catch-ups that had more events than `CATCH_UP_MAX`
        self._missed_since_ms: int | None = None  # the first event the link was down for
        self._caught_up = False  # since this process started

    def object_key(self, event: MotionEvent) -> str:
        return f"thumbnails/{self._rid}/{self._secret.camera_key(event.camera_id)}/e{event.id}"

    def reference(self, event: MotionEvent) -> dict[str, str] | None:
        """What a device needs to fetch and open the thumbnail: the object key (for a relay
        link) and its key (base64url). Send it only inside the sealed channel."""
        if event.thumbnail is None:
            return None
        key = self.object_key(event)
        return {"key": key, "k": b64url(self._secret.thumbnail_key(key))}

    async def on_notice(self, notice: EventNotice) -> None:
        if not self._connected():
            # Uploaded at the next connect (`catch_up`), from the event store.
            self.missed += 1
            if self._missed_since_ms is None:
                self._missed_since_ms = notice.event.start_ms
            return
        try:
            await self.publish(notice.event)
        except RightsRefused as exc:
            # No account holds a grant yet (nobody to show it to): expected, not a fault.
            level = logging.DEBUG if exc.code == "no_grant" else logging.WARNING
            log.log(level, "event %d thumbnail not uploaded: %s", notice.event.id, exc)
        except RemoteMediaError as exc:
            log.warning("event %d thumbnail not uploaded: %s", notice.event.id, exc)

    async def catch_up(self) -> int:
        """The link is (back) up: upload the thumbnails of the events it was down for (after a
        start, of the last `CATCH_UP_S`). Returns how many were uploaded."""
        since = self._missed_since_ms
        if not self._caught_up:
            start = round(self._clock.now() * 1000) - CATCH_UP_S * 1000
            since = start if since is None else min(since, start)
        if since is None:
            return 0
        self._missed_since_ms = None
        self._caught_up = True
        try:
            page = await self._motion.events.query(EventQuery(start_ms=since, limit=CATCH_UP_MAX))
        except Unavailable:
            return 0  # motion is starting or stopping: the next notices upload their own
        if page.next_cursor is not None:
            self.dropped += 1
            log.warning("more than %d events while the relay was away: the older thumbnails "
                        "are uploaded when a device lists them", CATCH_UP_MAX)  # fmt: skip
        uploaded = 0
        for event in page.events:
            try:
                uploaded += await self.publish(event)
            except RemoteMediaError as exc:
                log.warning("thumbnails not caught up: %s", exc)
                break
        if uploaded:
            log.info("uploaded %d event thumbnail(s) the relay missed", uploaded)
        return uploaded

    async def ensure(self, events: Iterable[MotionEvent]) -> None:
        for event in events:
            await self.publish(event)

    async def publish(self, event: MotionEvent) -> bool:
        """Upload the event's thumbnail unless this very JPEG was uploaded recently (a better
        frame replaces the file under the same name)."""
        if event.thumbnail is None:
            return False
        path = await self._motion.thumbnail_path(event.id)
        if path is None:
            return False
        try:
            jpeg = await asyncio.to_thread(path.read_bytes)
        except OSError:
            return False  # deleted with its event meanwhile
        digest = hashlib.sha256(jpeg).digest()
        done = self._uploaded.get(event.id)
        now = self._clock.now()
        if done is not None and done[0] == digest and now - done[1] < REUPLOAD_S:
            return False
        key = self.object_key(event)
        sealed = seal(self._secret.thumbnail_key(key), thumbnail_aad(key), jpeg)
        rights = await self._current_rights()
        await self._uploader.upload(rights, key.removeprefix(rights.prefix), sealed)
        self._remember(event.id, digest, now)
        self.uploads += 1
        return True

    @property
    def remembered(self) -> int:
        return len(self._uploaded)

    def _remember(self, event_id: int, digest: bytes, now: float) -> None:
        uploaded = self._uploaded
        uploaded.pop(event_id, None)  # the newest at the end
        uploaded[event_id] = (digest, now)
        while True:
            oldest = next(iter(uploaded))
            if len(uploaded) <= MAX_REMEMBERED and now - uploaded[oldest][1] < REUPLOAD_S:
                break
            del uploaded[oldest]

    async def _current_rights(self) -> UploadRights:
        async with self._lock:
            if self._rights is None or not self._rights.fresh(self._clock.now()):
                self._rights = await self._relay.thumbnails()
            return self._rights
