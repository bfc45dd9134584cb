"""Writing one fMP4 segment durably: packets -> `<name>.partial` -> fsync -> rename -> fsync dir.

Only after `finish()` returns is the segment handed to the index, so the index never names a
file that a crash could leave incomplete (docs/design/segments.md). While the segment grows,
`write_back()` keeps its written fragments out of the page cache (storage/pagecache.py).

Packets are written with timestamps relative to the start of their run and the muxer is told
to keep them (`frag_discont`, no negative-timestamp shifting): the fragments' decode times
then continue from one file to the next, so playback can chain the segments of a run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import av
import av.error

from recorder.errors import SegmentError
from recorder.storage import pagecache
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment

MUXER_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof+frag_discont",
    "avoid_negative_ts": "disabled",
    # Write each fragment out as the muxer finishes it (the muxer holds a fragment's samples
    # until its end, so this is one write per fragment, not per packet). Without it FFmpeg's
    # I/O buffer holds up to 256 KB, and a crash would lose complete fragments with it:
    # reconciliation keeps every fragment that reached the file (docs/design/segments.md).
    "flush_packets": "1",
}


class _Track:
    """One output track: where its packets go and how their timestamps are rebased."""

    __slots__ = ("base", "last_dts", "stream")

    def __init__(self, stream: Any, base: int) -> None:
        self.stream = stream
        self.base = base  # the input tick that maps to 0, the start of the run
        self.last_dts = -1


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path) -> None:
    """mkdir -p, then fsync each new directory's parent so the new entries survive a crash."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)


class SegmentWriter:
    def __init__(
        self,
        layout: SegmentLayout,
        camera_id: str,
        video: Any,
        audio: Any | None,
        provisional_start_ms: int,
        run_base_s: float,
        size: tuple[int, int] | None = None,
    ) -> None:
        # The start (and so the final name) is settled in `finish`, when the run's wall-clock
        # anchor is known best (see capture/timeline.py); the temporary name uses a first guess.
        self._layout = layout
        self.camera_id = camera_id
        self.run_base_s = run_base_s  # PTS (s) of the run's start: time 0 in the file
        self.relative = layout.relative_path(camera_id, provisional_start_ms)
        self.partial = layout.temp_path(layout.absolute(self.relative))
        self.packets = 0
        self._fd = -1  # the partial file, read-only: for write-back, fsync and page dropping
        self._writeback_from = 0  # where the last write-back started; before it, pages are clean
        self._writeback_to = 0  # and where it ended
        make_dirs_durable(self.partial.parent)
        try:
            self._out = av.open(str(self.partial), "w", format="mp4", options=MUXER_OPTIONS)
            self._video = self._out.add_stream_from_template(video)
            if size is not None and not self._video.codec_context.width:
                # The probe saw no picture (no keyframe in its window): without a size, the
                # muxer refuses the header. `size` comes from the first keyframe.
                self._video.codec_context.width, self._video.codec_context.height = size
            self._audio = self._out.add_stream_from_template(audio) if audio else None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise SegmentError(f"cannot create {self.relative}: {exc}") from exc
        # Per track: the input tick that maps to 0 (start of run) and the last DTS written.
        self.video_track = _Track(self._video, round(run_base_s / video.time_base))
        self.audio_track = (
            _Track(self._audio, round(run_base_s / audio.time_base)) if audio is not None else None
        )

    def write(self, packet: Any, track: _Track, pts: int | None, dts: int | None) -> bool:
        """Mux one packet of `track`, given its PTS and DTS as demuxed (the caller has read
        them: each read of a PyAV attribute costs, and this runs for every packet). Returns
        False when the packet was dropped: before the run's start, or out of order."""
        if dts is None:
            if pts is None:
                return False
            dts = pts
        elif pts is None:
            pts = dts
        dts -= track.base
        if dts < 0 or dts <= track.last_dts:
            return False  # audio from before the first keyframe, or a duplicate
        packet.dts = dts
        packet.pts = pts - track.base
        packet.stream = track.stream
        try:
            self._out.mux_one(packet)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise SegmentError(f"cannot write {self.relative}: {exc}") from exc
        track.last_dts = dts
        self.packets += 1
        return True

    def write_back(self) -> None:
        """Start writing what the muxer has written so far to disk, and drop from the page cache
        what the previous call started writing (by now clean). The session calls this once per
        fragment, when a keyframe has made the muxer write out the one before. A failure here
        costs only memory: `finish` fsyncs everything anyway."""
        try:
            if self._fd < 0:
                self._fd = os.open(self.partial, os.O_RDONLY)  # the muxer creates it lazily
            end = pagecache.whole_pages(os.fstat(self._fd).st_size)
        except OSError:
            return
        if self._writeback_to > self._writeback_from:
            pagecache.drop(self._fd, self._writeback_from, self._writeback_to)
        if end > self._writeback_to and pagecache.start_writeback(
            self._fd, self._writeback_to, end
        ):
            self._writeback_from, self._writeback_to = self._writeback_to, end

    def finish(self, run_start_ms: int, start_ms: int, end_ms: int) -> NewSegment:
        """Close, fsync, rename into place, fsync the directory; then describe the segment."""
        self.relative = self._layout.relative_path(self.camera_id, start_ms)
        final = self._layout.absolute(self.relative)
        try:
            self._out.close()
            if self._fd < 0:
                self._fd = os.open(self.partial, os.O_RDONLY)
            os.fsync(self._fd)
            make_dirs_durable(final.parent)  # another hour's folder, if the start moved back
            self.partial.rename(final)
            fsync_dir(final.parent)
            if final.parent != self.partial.parent:
                fsync_dir(self.partial.parent)
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise SegmentError(f"cannot finish {self.relative}: {exc}") from exc
        try:
            facts = inspect_fmp4(final)
        finally:
            pagecache.drop(self._fd)  # durable now, so every page is clean
            self._close_fd()
        if not facts.complete:
            # Left in place: start-up reconciliation quarantines what it cannot index.
            raise SegmentError(f"{self.relative} is not a complete fMP4: {facts.problem}")
        return NewSegment(
            camera_id=self.camera_id,
            run_start_ms=min(run_start_ms, start_ms),
            start_ms=start_ms,
            end_ms=max(end_ms, start_ms + 1),
            bytes=facts.size,
            path=self.relative,
            init_bytes=facts.init_bytes,
            keyframes=facts.keyframes,
            video_codec=facts.video_codec,
            has_audio=self._audio is not None,
        )

    def abort(self) -> None:
        """Drop the segment in flight (nothing of it reaches the index)."""
        with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
            self._out.close()
        self._close_fd()
        self.partial.unlink(missing_ok=True)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
