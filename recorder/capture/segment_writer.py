"""Writing one fMP4 segment durably: packets -> `<name>.partial` -> fsync -> rename -> fsync dir.

Only after `finish()` returns is the segment handed to the index, so the index never names a
file that a crash could leave incomplete (docs/design/segments.md). A write that fails (no space
left, an I/O error) ends the segment: `finish()` keeps the fragments written whole, truncating
the file after the last of them before it gets its final name, and removes it if there is none.
While the segment grows, `write_back()` keeps its written fragments out of the page cache
(storage/pagecache.py).

Packets are written with timestamps relative to the start of their run (the run's first
DTS), their composition offsets (PTS - DTS) kept so each frame of a B-frame stream plays at its
own time, and the muxer is told to keep them (`frag_discont`, no negative-timestamp shifting):
the fragments' decode times then continue from one file to the next, so playback can chain
the segments of a run. A user who downloads a segment gets a copy that starts at 0
(media/download.py); docs/design/segments.md says why the files themselves do not.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import av
import av.error

from recorder.av_errors import CAUGHT, translate
from recorder.errors import SegmentError
from recorder.storage import pagecache
from recorder.storage.durable import fsync_dir, make_dirs_durable
from recorder.storage.fmp4 import Fmp4Info, inspect_fmp4
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment

log = logging.getLogger(__name__)

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
        self.base = base  # the input tick that maps to 0, the start of the segment
        self.last_dts = -1


class SegmentWriter:
    def __init__(
        self,
        layout: SegmentLayout,
        camera_id: str,
        video: Any,
        audio: Any | None,
        provisional_start_ms: int,
        zero_s: float,
        size: tuple[int, int] | None = None,
    ) -> None:
        # The start (and so the final name) is settled in `finish`, when the run's wall-clock
        # anchor is known best (see capture/timeline.py); the temporary name uses a first guess.
        self._layout = layout
        self.camera_id = camera_id
        self.zero_s = zero_s  # the run's first DTS (s): time 0 of the run's timeline
        self.relative = layout.relative_path(camera_id, provisional_start_ms)
        self.partial = layout.temp_path(layout.absolute(self.relative))
        self.packets = 0
        self.write_error: Exception | None = None  # the first failed write: the tail is suspect
        self._fd = -1  # the partial file, read-only: for write-back, fsync and page dropping
        self._writeback_from = 0  # where the last write-back started; before it, pages are clean
        self._writeback_to = 0  # and where it ended
        try:
            make_dirs_durable(self.partial.parent)  # (a full disk may refuse a new directory)
            self._out = av.open(str(self.partial), "w", format="mp4", options=MUXER_OPTIONS)
        except CAUGHT as exc:
            with contextlib.suppress(OSError):
                self.partial.unlink(missing_ok=True)
            raise translate(exc, f"cannot create {self.relative}", SegmentError) from exc
        try:
            self._video = self._out.add_stream_from_template(video)
            if size is not None and not self._video.codec_context.width:
                # The probe saw no picture (no keyframe in its window): without a size, the
                # muxer refuses the header. `size` comes from the first keyframe.
                self._video.codec_context.width, self._video.codec_context.height = size
            self._audio = self._out.add_stream_from_template(audio) if audio else None
        except CAUGHT as exc:
            self.abort()
            raise translate(exc, f"cannot create {self.relative}", SegmentError) from exc
        # Per track: the input tick that maps to 0 (the run's start) and the last DTS written.
        self.video_track = _Track(self._video, round(zero_s / video.time_base))
        self.audio_track = (
            _Track(self._audio, round(zero_s / audio.time_base)) if audio is not None else None
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
            return False  # audio from before the run's first keyframe, or a duplicate
        packet.dts = dts
        packet.pts = pts - track.base
        packet.stream = track.stream
        if self.write_error is not None:
            return False  # FFmpeg's I/O errors are sticky: nothing more reaches the file
        try:
            self._out.mux_one(packet)
        except CAUGHT as exc:  # per packet: a `with` costs more than this `try`
            self.write_error = exc
            raise translate(exc, f"cannot write {self.relative}", SegmentError) from exc
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
        """Close, check, fsync, rename into place, fsync the directory; then describe the
        segment. A file cut short (a failed write, or a muxer that could not write its last
        fragment) keeps its complete fragments and ends where they do; one without any is
        removed and SegmentError raised. Nothing incomplete ever gets a final name."""
        self.relative = self._layout.relative_path(self.camera_id, start_ms)
        final = self._layout.absolute(self.relative)
        try:
            try:
                self._out.close()  # writes the last fragment
            except CAUGHT as exc:
                self.write_error = self.write_error or exc
            if self._fd < 0:
                self._fd = os.open(self.partial, os.O_RDONLY)
            facts = inspect_fmp4(self.partial)
            if not facts.complete:
                facts = self._keep_complete_fragments(facts)
                end_ms = min(end_ms, start_ms + facts.duration_ms)
            os.fsync(self._fd)
            make_dirs_durable(final.parent)  # another hour's folder, if the start moved back
            self.partial.rename(final)
            fsync_dir(final.parent)
            if final.parent != self.partial.parent:
                fsync_dir(self.partial.parent)
        except (*CAUGHT, SegmentError) as exc:
            self.abort()
            if isinstance(exc, SegmentError):
                raise
            raise translate(exc, f"cannot finish {self.relative}", SegmentError) from exc
        pagecache.drop(self._fd)  # durable now, so every page is clean
        self._close_fd()
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

    def _keep_complete_fragments(self, facts: Fmp4Info) -> Fmp4Info:
        """Truncate the partial file after its last complete fragment (freeing the rest at
        once, which matters on a full disk) and describe what is left; raise if nothing."""
        why = self.write_error or facts.problem
        if facts.fragments == 0:
            raise SegmentError(f"{self.relative}: nothing complete was written ({why})")
        os.truncate(self.partial, facts.valid_bytes)
        kept = inspect_fmp4(self.partial)
        if not kept.complete:  # (cannot happen: the prefix was complete)
            raise SegmentError(f"{self.relative}: truncated file is not valid: {kept.problem}")
        log.warning(
            "%s: segment cut short (%s): kept its first %d fragments, %d ms",
            self.relative, why, kept.fragments, kept.duration_ms,
        )  # fmt: skip
        return kept

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
