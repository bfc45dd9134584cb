"""Retention's candidate windows: the oldest segments it may delete, fetched in bounded pages.

Unprotected segments are looked for in the *gaps* between active protections, one index range
per gap, rather than by asking SQLite to test every segment against the protections: that test
walks a camera's protections from its oldest for each row, so with events covering most of the
history (motion all day, 30 days of events) one pass cost a scan of the whole index times the
protections before each row. Here protected history costs nothing: a camera whose history is
one long protected span costs two small range queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from recorder.storage.index import SegmentIndex, SegmentRef
from recorder.storage.model import Protection

Gap = tuple[int | None, int | None]  # [start, end) free of protection; None: unbounded
_PAGE = 500
_LAST_ID = 2**62  # larger than any segment id: (start - 1, _LAST_ID) < (start, any id)


def unprotected_gaps(protections: Iterable[Protection], now_ms: int) -> dict[str, list[Gap]]:
    """Per camera with an active protection, the stretches no active protection covers, in
    time order. A camera without one is one unbounded gap (absent from the result)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for p in protections:
        if p.expires_ms is None or p.expires_ms > now_ms:
            spans.setdefault(p.camera_id, []).append((p.start_ms, p.end_ms))
    gaps: dict[str, list[Gap]] = {}
    for camera_id, ranges in spans.items():
        out: list[Gap] = []
        reach: int | None = None  # end of the merged protected span so far (None: none yet)
        for start, end in sorted(ranges):
            if reach is not None and start <= reach:
                reach = max(reach, end)  # overlapping or touching: the same span
                continue
            out.append((reach, start))
            reach = end
        out.append((reach, None))
        gaps[camera_id] = out
    return gaps


async def unprotected_window(
    index: SegmentIndex,
    camera_ids: Sequence[str],
    gaps: dict[str, list[Gap]],
    *,
    need: int,
    batch: int,
) -> tuple[list[SegmentRef], bool]:
    """The oldest unprotected segments across cameras, in (start_ms, id) order, covering `need`
    bytes if they exist, at most `batch`; and whether no other unprotected segment exists.

    Each camera contributes its own oldest up to `need` bytes (the global oldest `need` bytes
    are among those), found gap by gap; the union is merged and cut at `need`."""
    if need <= 0:
        return [], True
    found: list[SegmentRef] = []
    exhausted = True
    for camera_id in camera_ids:
        got, complete = await _camera_window(
            index, camera_id, gaps.get(camera_id, [(None, None)]), need, batch
        )
        found += got
        exhausted = exhausted and complete
    found.sort(key=lambda ref: (ref.start_ms, ref.id))
    window: list[SegmentRef] = []
    covered = 0
    for ref in found:
        if covered >= need or len(window) >= batch:
            return window, False
        window.append(ref)
        covered += ref.bytes
    return window, exhausted


async def _camera_window(
    index: SegmentIndex, camera_id: str, gaps: list[Gap], need: int, batch: int
) -> tuple[list[SegmentRef], bool]:
    got: list[SegmentRef] = []
    covered = 0
    for gap_start, gap_end in gaps:
        after = None if gap_start is None else (gap_start - 1, _LAST_ID)
        while True:
            if covered >= need or len(got) >= batch:
                return got, False
            want = min(_PAGE, batch - len(got))
            # Starting in the gap and ending by its end: no protection overlaps the segment.
            page = await index.oldest_segments(
                limit=want, camera_id=camera_id, after=after, ending_by_ms=gap_end
            )
            got += page
            covered += sum(ref.bytes for ref in page)
            if len(page) < want:
                break
            after = (page[-1].start_ms, page[-1].id)
    return got, True


async def oldest_window(
    index: SegmentIndex, need: int, now_ms: int, *, batch: int, hard_only: bool = False
) -> tuple[list[SegmentRef], bool]:
    """Oldest segments free of protection (with `hard_only`: of any but events'), across
    cameras, paged until they cover `need` bytes or `batch` rows; and whether no other exists.
    SQLite tests each row against the protections: cheap for the oldest rows, which is where
    event footage (the `hard_only` use) is taken from."""
    window: list[SegmentRef] = []
    covered = 0
    after: tuple[int, int] | None = None
    while need > 0 and covered < need and len(window) < batch:
        want = min(_PAGE, batch - len(window))
        page = await index.oldest_segments(
            limit=want, after=after, unprotected_at_ms=now_ms, hard_only=hard_only
        )
        window += page
        covered += sum(ref.bytes for ref in page)
        if len(page) < want:
            return window, True
        after = (page[-1].start_ms, page[-1].id)
    return window, need <= 0
