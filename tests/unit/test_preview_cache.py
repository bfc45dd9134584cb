"""The timeline previews' LRU (media/preview.py): bounded, least recently used out first, and
one decode for requests of the same keyframe that arrive while it runs."""

from __future__ import annotations

import asyncio

import pytest

from recorder.errors import NotFound
from recorder.media.preview import Preview, PreviewCache


def preview(n: int) -> Preview:
    return Preview(f"jpeg {n}".encode(), 1_700_000_000_000 + n)


def test_the_cache_holds_at_most_its_entries_and_drops_the_least_recently_used() -> None:
    cache = PreviewCache(max_entries=3)
    for n in range(3):
        cache.put((1, n, 160), preview(n))
    assert cache.get((1, 0, 160)) == preview(0)  # used again: now the newest
    cache.put((1, 3, 160), preview(3))
    cache.put((1, 4, 160), preview(4))
    assert len(cache) == 3
    assert cache.get((1, 1, 160)) is None and cache.get((1, 2, 160)) is None
    assert [cache.get((1, n, 160)) for n in (0, 3, 4)] == [preview(0), preview(3), preview(4)]
    assert cache.get((1, 0, 320)) is None  # another width is another picture


async def test_requests_for_one_keyframe_share_its_decode() -> None:
    cache = PreviewCache(max_entries=8)
    release = asyncio.Event()
    started = asyncio.Event()
    made = 0

    async def make() -> Preview:
        nonlocal made
        made += 1
        started.set()
        await release.wait()
        return preview(7)

    waiting = [asyncio.create_task(cache.get_or_make((2, 7, 160), make)) for _ in range(5)]
    await started.wait()
    release.set()
    assert await asyncio.gather(*waiting) == [preview(7)] * 5
    assert made == 1 and len(cache) == 1


async def test_a_failed_decode_is_not_cached_and_every_waiter_hears_why() -> None:
    cache = PreviewCache(max_entries=8)
    release = asyncio.Event()

    async def fail() -> Preview:
        await release.wait()
        raise NotFound("no preview: the recording holds no picture there")

    first = asyncio.create_task(cache.get_or_make((3, 0, 160), fail))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get_or_make((3, 0, 160), fail))
    await asyncio.sleep(0)
    release.set()
    for task in (first, second):
        with pytest.raises(NotFound, match="holds no picture"):
            await task
    assert len(cache) == 0
