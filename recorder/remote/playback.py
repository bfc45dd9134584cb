"""`PlaybackUpload`: a recorded range as a remote VOD: the playlist at once, then each
segment's init and media sealed and uploaded in playback order, ahead of the device's playhead
by `ahead_s`. The device reports its playhead with each lease renewal; a seek far away moves the
window there at once (segments already sent are not sent again).

Each recorded segment is a whole fMP4 file (docs/design/segments.md): its init section (the
first `init_bytes`) becomes an init object shared by every segment with identical bytes, and
the rest one media object.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from recorder.remote.parts import PLAYLIST, PlaybackItem, playback_playlist
from recorder.remote.sealed_uploads import SessionUploads
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment

log = logging.getLogger(__name__)


def _read(path: Path, start: int, size: int | None) -> bytes:
    with path.open("rb") as f:
        f.seek(start)
        return f.read() if size is None else f.read(size)


def plan_items(segments: Sequence[Segment], init_digests: Sequence[str]) -> list[PlaybackItem]:
    """The playlist's items, one per segment (oldest first)."""
    items = []
    offset = 0.0
    previous: Segment | None = None
    for i, (segment, digest) in enumerate(zip(segments, init_digests, strict=True)):
        gap = previous is not None and (
            segment.run_start_ms != previous.run_start_ms or segment.start_ms != previous.end_ms
        )
        duration = segment.duration_ms / 1000
        items.append(
            PlaybackItem(
                i, segment.id, f"i{digest}.mp4", f"s{i:06d}.m4s", segment.start_ms, duration,
                offset, gap,
            )
        )  # fmt: skip
        offset += duration
        previous = segment
    return items


class PlaybackUpload:
    def __init__(
        self,
        uploads: SessionUploads,
        layout: SegmentLayout,
        segments: Sequence[Segment],
        ahead_s: float = 60.0,
    ) -> None:
        self._uploads = uploads
        self._layout = layout
        self._segments = list(segments)
        self._ahead_s = ahead_s
        self._position = 0.0
        self._moved = asyncio.Event()
        self.items: list[PlaybackItem] = []

    @property
    def duration_s(self) -> float:
        return sum(s.duration_ms for s in self._segments) / 1000

    def seek(self, position_s: float) -> None:
        self._position = max(0.0, position_s)
        self._moved.set()

    async def prepare(self) -> None:
        """Read each segment's init section and upload the playlist (before the answer goes
        to the device, so it can fetch the playlist at once)."""
        digests = []
        for segment in self._segments:
            init = await asyncio.to_thread(self._init_of, segment)
            digests.append(hashlib.sha256(init).hexdigest()[:16] if init else "missing")
        self.items = plan_items(self._segments, digests)
        await self._uploads.put(PLAYLIST, playback_playlist(self.items).encode())

    def _init_of(self, segment: Segment) -> bytes:
        try:
            return _read(self._layout.absolute(segment.path), 0, segment.init_bytes)
        except OSError:
            return b""  # deleted by retention since the range was listed

    def _wanted(self) -> list[PlaybackItem]:
        """Items from the one at the playhead to `ahead_s` past it, not yet uploaded."""
        start, end = self._position, self._position + self._ahead_s
        return [
            i
            for i in self.items
            if i.offset_s + i.duration_s > start
            and i.offset_s < end
            and i.media not in self._uploads.uploaded
        ]

    def _forget_behind(self) -> None:
        """Segments that end more than `ahead_s` behind the playhead leave the lease's list (a
        seek back that far uploads them again): the list stays about two windows long."""
        behind = self._position - self._ahead_s
        for item in self.items:
            if item.offset_s + item.duration_s >= behind:
                break
            self._uploads.forget(item.media)

    async def run(self) -> None:
        """Until cancelled (the session ends); RightsRefused from the relay ends it too."""
        by_id = {s.id: s for s in self._segments}
        while True:
            self._moved.clear()
            self._forget_behind()
            for item in self._wanted():
                if self._moved.is_set():
                    break  # a seek: start again from the new playhead
                await self._upload(item, by_id[item.segment_id])
            else:
                await self._moved.wait()

    async def _upload(self, item: PlaybackItem, segment: Segment) -> None:
        path = self._layout.absolute(segment.path)
        try:
            if item.init not in self._uploads.uploaded:
                init = await asyncio.to_thread(_read, path, 0, segment.init_bytes)
                await self._uploads.put(item.init, init)
            media = await asyncio.to_thread(_read, path, segment.init_bytes, None)
        except OSError as exc:
            log.warning("remote playback: segment %d unreadable: %s", segment.id, exc)
            self._uploads.mark(item.media)  # not tried again; the player skips it
            return
        await self._uploads.put(item.media, media)
