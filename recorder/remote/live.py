"""`LiveUpload`: one camera stream, watched through the recorder's live path and uploaded as
sealed ~1 s fMP4 parts and a sliding-window playlist, for as long as its session runs.

It is one more viewer of the shared `LiveFeed` (media/live_feed.py), so remote and LAN
viewers of a stream share one RTSP connection, and a new session starts with the frames since
the last keyframe. Parts are cut by `PartCutter`; a single uploader task sends, in order, the
init section (once per camera connection), each part, then the playlist that lists it. If
uploads fall behind (a slow uplink), the oldest parts not yet sent are dropped: live stays live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from recorder.clock import Clock
from recorder.media.live_feed import Kind, LiveFeeds, LiveMessage, LiveViewer
from recorder.remote.errors import UploadFailed
from recorder.remote.parts import (
    PLAYLIST,
    LivePart,
    PartCutter,
    init_name,
    live_playlist,
    part_name,
)
from recorder.remote.sealed_uploads import SessionUploads

log = logging.getLogger(__name__)
WINDOW = 10  # parts listed in the playlist
MAX_BACKLOG = 4  # parts waiting for upload before the oldest is dropped
MAX_FAILURES = 5  # uploads failing in a row before the session ends
RETRY_S = 0.5


class LiveUpload:
    def __init__(
        self,
        uploads: SessionUploads,
        feeds: LiveFeeds,
        camera_id: str,
        stream: str,
        url: str,
        clock: Clock,
        part_s: float = 1.0,
    ) -> None:
        self._uploads = uploads
        self._feeds = feeds
        self._camera_id = camera_id
        self._stream = stream
        self._url = url
        self._clock = clock
        self._cutter = PartCutter(part_s)
        self._part_s = part_s
        self._pending: deque[LivePart | tuple[int, bytes]] = deque()
        self._ready = asyncio.Event()
        self._listed: deque[LivePart] = deque(maxlen=WINDOW)
        self.parts_uploaded = 0
        self.parts_dropped = 0
        self.failures = 0

    async def run(self) -> None:
        """Until cancelled (the session ends) or the relay refuses the rights (raises)."""
        viewer = LiveViewer(self._clock)
        feed = self._feeds.watch(self._camera_id, self._stream, self._url, viewer)
        sender = asyncio.create_task(self._send(), name=f"remote-live-{self._uploads.msid}")
        getter: asyncio.Future[LiveMessage] | None = None
        try:
            while not sender.done():
                getter = asyncio.ensure_future(viewer.next())
                await asyncio.wait([getter, sender], return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break
                self._take(getter.result())
            sender.result()  # the sender's failure (rights refused) ends the session
        finally:
            feed.remove(viewer)
            for task in (getter, sender):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    def _take(self, message: LiveMessage) -> None:
        if message.kind is Kind.INIT:
            version = self._cutter.new_init()
            self._queue((version, message.data))
        elif message.kind is Kind.FRAGMENT:
            part = self._cutter.fragment(
                message.data, message.keyframe, message.media_s, message.wall_ms
            )
            if part is not None:
                self._queue(part)
                backlog = [p for p in self._pending if isinstance(p, LivePart)]
                if len(backlog) > MAX_BACKLOG:
                    self._pending.remove(backlog[0])
                    self.parts_dropped += 1

    def _queue(self, item: LivePart | tuple[int, bytes]) -> None:
        self._pending.append(item)
        self._ready.set()

    async def _send(self) -> None:
        while True:
            while not self._pending:
                self._ready.clear()
                await self._ready.wait()
            item = self._pending[0]
            try:
                if isinstance(item, tuple):
                    version, data = item
                    await self._uploads.put(init_name(version), data)
                else:
                    await self._uploads.put(part_name(item.sequence), item.data)
                    if not self._listed or self._listed[-1] is not item:  # not on a retry
                        if len(self._listed) == WINDOW:  # it leaves the playlist
                            self._uploads.forget(part_name(self._listed[0].sequence))
                        self._listed.append(item)
                    playlist = live_playlist(self._listed, self._part_s).encode()
                    await self._uploads.put(PLAYLIST, playlist)
                    self.parts_uploaded += 1
            except UploadFailed as exc:
                # A hiccup of the store or the uplink: try again (a part that waits too long
                # is dropped by the backlog bound); many in a row end the session.
                self.failures += 1
                if self.failures >= MAX_FAILURES:
                    raise
                log.warning("remote live upload failed (%d): %s", self.failures, exc)
                await self._clock.sleep(RETRY_S)
                continue
            self.failures = 0
            if self._pending and self._pending[0] is item:
                self._pending.popleft()
