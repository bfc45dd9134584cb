"""Thumbnails (size cap, paths we build) and the event bus (queues, listeners)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from recorder.motion.analysis import Box
from recorder.motion.bus import EventBus
from recorder.motion.model import EventNotice, EventSource, MotionEvent, NoticeKind
from recorder.motion.thumbnails import ThumbnailStore, encode_thumbnail, frame_to_bgr

T0 = 1_700_000_000_000


def noisy(width: int, height: int) -> npt.NDArray[np.uint8]:
    # Pure noise is the worst case for JPEG: nothing compresses.
    return np.random.default_rng(5).integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1920, 1080), (160, 90)])
def test_thumbnails_fit_the_byte_limit(width: int, height: int) -> None:
    jpeg = encode_thumbnail(noisy(width, height), Box(0.1, 0.1, 0.2, 0.2), max_bytes=50_000)
    assert len(jpeg) <= 50_000
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] <= 640


def test_the_motion_box_is_drawn() -> None:
    grey = np.full((360, 640, 3), 128, np.uint8)
    jpeg = encode_thumbnail(grey, Box(0.25, 0.25, 0.5, 0.5))
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert abs(int(image[90, 320, 2]) - 128) > 60  # on the top edge: amber, not grey
    assert abs(int(image[180, 320, 2]) - 128) < 10  # inside: untouched


def test_gray_frames_become_colour_images() -> None:
    assert frame_to_bgr(np.zeros((9, 16), np.uint8)).shape == (9, 16, 3)


def test_paths_are_built_here_and_nothing_else_is_accepted(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path)
    relative = store.relative_path("front", 42, T0)
    assert relative == "thumbnails/front/2023-11-14/42.jpg"
    store.write(relative, b"\xff\xd8jpeg")
    assert store.absolute(relative).read_bytes() == b"\xff\xd8jpeg"
    for bad in ("../index.sqlite3", "thumbnails/front/2023-11-14/../../x.jpg", "/etc/passwd"):
        with pytest.raises(ValueError):
            store.absolute(bad)
    with pytest.raises(ValueError):
        store.relative_path("../front", 1, T0)
    store.delete(relative)
    assert not (tmp_path / "thumbnails" / "front").exists()
    store.delete(relative)  # already gone: fine


def notice(event_id: int) -> EventNotice:
    event = MotionEvent(event_id, "front", EventSource.SOFTWARE, T0, None, 0.1, (), None, None,
                        T0 - 5000, None, T0)  # fmt: skip
    return EventNotice(NoticeKind.START, event)


async def test_subscribers_get_notices_and_a_slow_one_loses_the_oldest() -> None:
    bus = EventBus()
    async with bus.subscription(maxsize=2) as queue:
        for i in range(1, 4):
            bus.publish(notice(i))
        assert [queue.get_nowait().event.id for _ in range(2)] == [2, 3]
    bus.publish(notice(4))
    assert queue.empty()  # unsubscribed


async def test_listeners_run_and_a_failing_one_harms_nobody() -> None:
    bus = EventBus()
    seen: list[int] = []
    pushed: list[int] = []

    def broken(_: EventNotice) -> None:
        raise RuntimeError("boom")

    async def push(n: EventNotice) -> None:
        await asyncio.sleep(0)
        pushed.append(n.event.id)

    bus.add_listener(broken)
    remove = bus.add_listener(lambda n: seen.append(n.event.id))
    bus.add_listener(push)
    bus.publish(notice(1))
    await bus.drain()
    remove()
    bus.publish(notice(2))
    await bus.drain()
    assert seen == [1] and pushed == [1, 2]
