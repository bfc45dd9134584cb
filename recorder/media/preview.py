"""Small pictures of recorded video near any instant, for scrubbing the timeline.

A preview is the keyframe of the recorded segment nearest the asked instant, decoded on its own
and shrunk (160 px wide by default). Only the init section, that keyframe's `moof` and its
sample are read (the fragment's byte offset is in the index) and handed to the decoder directly
(storage/fmp4_sample.py): no demuxer, whose probing cost 3-5 times the decode. One preview is
one decode (~8 ms at 720p here); codecs other than H.264/H.265 go through the demuxer.
Scrubbing asks for many instants that map to the same keyframe:
`PreviewCache`, a small LRU keyed by (segment, keyframe, width), answers those without reading
or decoding again. A keyframe's picture never changes, so cached bytes never go stale; a segment
that retention deletes just stops being asked for and ages out.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import cv2

from recorder.av_errors import CAUGHT
from recorder.errors import NotFound, SegmentError
from recorder.shared_calls import SharedCalls
from recorder.storage.fmp4_sample import KeyframeSample, read_keyframe_sample
from recorder.storage.model import Segment

PREVIEW_JPEG_QUALITY = 70  # a scrubbing thumbnail: size matters more than detail
DEFAULT_ENTRIES = 512  # ~5 KB each at 160 px: a few MB at most
RECENT_SEGMENTS = 64  # a drag stays in a few segments: found without asking the index


@dataclass(frozen=True)
class Preview:
    jpeg: bytes
    taken_ms: int  # wall time of the keyframe shown


def nearest_keyframe(segment: Segment, t_ms: int) -> tuple[int, int, int]:
    """(index, offset_ms, byte_offset) of the segment's keyframe nearest `t_ms`; a segment
    indexed without keyframes starts with one right after its init section."""
    if not segment.keyframes:
        return 0, 0, segment.init_bytes
    offset = t_ms - segment.start_ms
    distances = [abs(k.offset_ms - offset) for k in segment.keyframes]
    index = distances.index(min(distances))
    keyframe = segment.keyframes[index]
    return index, keyframe.offset_ms, keyframe.byte_offset


def decode_preview(path: Path, segment: Segment, index: int, width: int) -> bytes:
    """The JPEG of keyframe `index` of `segment`, `width` pixels wide at most."""
    start = segment.keyframes[index].byte_offset if segment.keyframes else segment.init_bytes
    try:
        sample = read_keyframe_sample(path, segment.init_bytes, start)
        frame = _decode_sample(sample) if sample is not None else None
    except (SegmentError, *CAUGHT) as exc:
        raise NotFound(f"no preview: the recording cannot be read ({exc})") from exc
    if frame is None:
        return _decode_demuxed(path, segment, index, width)
    return _jpeg(frame, width)


def _decode_sample(sample: KeyframeSample) -> av.VideoFrame:
    codec: Any = av.CodecContext.create(sample.decoder, "r")
    codec.extradata = sample.extradata
    codec.thread_type = "NONE"  # one picture: threads would only add start-up cost
    # Deblocking cannot be seen at thumbnail size; skipping it saves a share of decode.
    codec.options = {"skip_loop_filter": "all"}
    frames = codec.decode(av.Packet(sample.data))
    # A stream with B-frames may hold the picture back for reordering: flushing releases it.
    frames = frames or codec.decode(None)
    if not frames:
        raise NotFound("no preview: the recording holds no picture there")
    frame: av.VideoFrame = frames[0]
    return frame


def _decode_demuxed(path: Path, segment: Segment, index: int, width: int) -> bytes:
    """The slower way, for codecs `read_keyframe_sample` leaves to FFmpeg's demuxer."""
    if segment.keyframes:
        start = segment.keyframes[index].byte_offset
        following = segment.keyframes[index + 1 :]
        stop = following[0].byte_offset if following else None
    else:
        start, stop = segment.init_bytes, None
    try:
        with path.open("rb") as file:
            head = file.read(segment.init_bytes)
            file.seek(start)
            body = file.read() if stop is None else file.read(stop - start)
        with av.open(io.BytesIO(head + body), "r", format="mp4") as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"  # one picture: threads would only add start-up cost
            # Deblocking cannot be seen at thumbnail size; skipping it saves a share of decode.
            stream.codec_context.options = {"skip_loop_filter": "all"}
            for frame in container.decode(stream):
                return _jpeg(frame, width)
    except (OSError, av.error.FFmpegError) as exc:
        raise NotFound(f"no preview: the recording cannot be read ({exc})") from exc
    raise NotFound("no preview: the recording holds no picture there")


def _jpeg(frame: av.VideoFrame, width: int) -> bytes:
    if frame.width > width:
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        frame = frame.reformat(width=width, height=height, format="bgr24")
    image = frame.to_ndarray(format="bgr24")
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
    if not ok:
        raise NotFound("no preview: the picture could not be encoded")
    return bytes(jpeg.tobytes())


PreviewKey = tuple[int, int, int]  # (segment id, keyframe index, width)


class PreviewCache:
    """LRU of previews by (segment id, keyframe index, width). Used from the event loop only
    (decoding runs in a thread, the cache is read and filled around it)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        self._max = max_entries
        self._entries: OrderedDict[PreviewKey, Preview] = OrderedDict()
        # A drag sends the same keyframe's request several times before the first answer:
        # they all wait for one decode.
        self._decodes: SharedCalls[PreviewKey, Preview] = SharedCalls()
        self._segments: OrderedDict[int, Segment] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def segment_at(self, camera_id: str, t_ms: int) -> Segment | None:
        """A recently used segment of `camera_id` covering `t_ms` (segments never change)."""
        for segment in reversed(self._segments.values()):
            if segment.camera_id == camera_id and segment.start_ms <= t_ms < segment.end_ms:
                self._segments.move_to_end(segment.id)
                return segment
        return None

    def used(self, segment: Segment) -> None:
        self._segments[segment.id] = segment
        self._segments.move_to_end(segment.id)
        while len(self._segments) > RECENT_SEGMENTS:
            self._segments.popitem(last=False)

    async def get_or_make(self, key: PreviewKey, make: Callable[[], Awaitable[Preview]]) -> Preview:
        found = self.get(key)
        if found is not None:
            return found
        preview = await self._decodes.run(key, make)
        self.put(key, preview)
        return preview

    def get(self, key: PreviewKey) -> Preview | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: PreviewKey, preview: Preview) -> None:
        self._entries[key] = preview
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
