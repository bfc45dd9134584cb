"""A live viewer's queue: a slow client skips to the next keyframe instead of piling frames up."""

from __future__ import annotations

import asyncio

from recorder.clock import FakeClock
from recorder.media.live_feed import Kind, LiveMessage, LiveViewer


def frame(n: int, keyframe: bool = False) -> LiveMessage:
    return LiveMessage(Kind.FRAGMENT, bytes([n]), keyframe=keyframe, media_s=n / 15)


def drain(viewer: LiveViewer) -> list[LiveMessage]:
    async def take() -> list[LiveMessage]:
        return [await viewer.next() for _ in range(viewer.queued)]

    return asyncio.run(take())


def test_a_viewer_starts_at_a_keyframe() -> None:
    viewer = LiveViewer(FakeClock())
    viewer.offer(frame(1))
    viewer.offer(frame(2, keyframe=True))
    viewer.offer(frame(3))
    assert [m.data[0] for m in drain(viewer)] == [2, 3]
    assert viewer.skipped == 1


def test_a_viewer_behind_by_half_a_second_resumes_at_the_next_keyframe() -> None:
    clock = FakeClock()
    viewer = LiveViewer(clock)
    viewer.offer(frame(0, keyframe=True))
    for n in range(1, 15):  # nobody reads for a second
        clock.advance(1 / 15)
        viewer.offer(frame(n))
    assert viewer.queued <= 9  # never more than about half a second waits
    clock.advance(1 / 15)
    viewer.offer(frame(15, keyframe=True))
    clock.advance(1 / 15)
    viewer.offer(frame(16))
    sent = [m.data[0] for m in drain(viewer)]
    assert sent[-2:] == [15, 16]
    assert sent == sorted(sent) and viewer.skipped >= 6


def test_a_new_init_section_restarts_at_a_keyframe() -> None:
    viewer = LiveViewer(FakeClock())
    viewer.offer(frame(0, keyframe=True))
    viewer.offer(LiveMessage(Kind.INIT, b"init", codec="avc1.4d401f"))
    viewer.offer(frame(1))
    viewer.offer(frame(2, keyframe=True))
    kinds = [(m.kind, m.data) for m in drain(viewer)]
    assert kinds == [(Kind.INIT, b"init"), (Kind.FRAGMENT, bytes([2]))]
