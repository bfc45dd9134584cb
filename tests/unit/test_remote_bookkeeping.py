"""What the recorder remembers per remote media session stays bounded however long the session
runs: the lease answer's `uploaded` list (live parts out of the playlist, playback segments far
behind the playhead), and the thumbnails it remembers uploading. Fakes through the uploader and
relay Protocols; no network."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from recorder.clock import FakeClock
from recorder.media.live_feed import Kind, LiveMessage
from recorder.remote import sealed_uploads, thumbnails
from recorder.remote.live import WINDOW, LiveUpload
from recorder.remote.parts import PLAYLIST, part_name
from recorder.remote.playback import PlaybackUpload
from recorder.remote.sealed_uploads import SessionUploads
from recorder.remote.sealing import MediaSecret, new_key
from recorder.remote.thumbnails import REUPLOAD_S, ThumbnailPublisher
from recorder.remote.uploads import RelayRights, UploadRights
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import Segment

RIGHTS = UploadRights("http://store.invalid/", {}, "media/r/m/", 1 << 20, 1e12)


class StoreFake:
    """An `ObjectUploader` that keeps what it is given."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    async def upload(self, rights: UploadRights, name: str, data: bytes) -> None:
        self.objects[rights.key(name)] = data
        self.puts += 1


class ControlFake:
    async def control(self, message: Any) -> Any:
        return {"upload": {**RIGHTS.__dict__}}


def uploads(store: StoreFake, clock: FakeClock) -> SessionUploads:
    return SessionUploads("m", new_key(), RIGHTS, RelayRights(ControlFake()), store, clock)


async def test_uploaded_keeps_the_newest_names_up_to_its_bound() -> None:
    session = uploads(StoreFake(), FakeClock())
    bound = sealed_uploads.MAX_REMEMBERED
    for n in range(bound + 50):
        await session.put(f"o{n}", b"x")
    assert len(session.uploaded) == bound
    assert "o0" not in session.uploaded and f"o{bound + 49}" in session.uploaded
    session.mark("o60")  # marked again: the newest now, kept longest
    await session.put("late", b"x")
    assert list(session.uploaded)[-2:] == ["o60", "late"]
    session.forget("late")
    assert "late" not in session.uploaded


async def test_a_long_live_session_lists_only_the_parts_of_its_playlist() -> None:
    store, clock = StoreFake(), FakeClock()
    session = uploads(store, clock)
    live = LiveUpload(session, None, "cam", "sub", "rtsp://x", clock, part_s=1.0)  # type: ignore[arg-type]
    sender = asyncio.create_task(live._send())
    live._take(LiveMessage(Kind.INIT, b"init"))
    parts = 5 * WINDOW
    for n in range(parts * 25 + 1):  # a keyframe each second at 25 fps: a part per second
        live._take(LiveMessage(Kind.FRAGMENT, b"f", n % 25 == 0, 1000.0 * n / 25, n / 25))
        for _ in range(1000):  # the sender takes it (a fake store answers at once)
            if not live._pending:
                break
            await asyncio.sleep(0)
    sender.cancel()
    assert live.parts_uploaded == parts
    listed = {n for n in session.uploaded if n.startswith("p")}
    assert listed == {part_name(s) for s in range(parts - WINDOW + 1, parts + 1)}
    assert len(session.uploaded) == WINDOW + 2  # the parts, the init, the playlist
    assert PLAYLIST in session.uploaded
    # Every part was uploaded all the same.
    assert sum(1 for key in store.objects if key.endswith(".m4s")) == parts


def segment(n: int, layout: SegmentLayout) -> Segment:
    start = 1_700_000_000_000 + n * 10_000
    path = layout.relative_path("cam", start)
    file = layout.absolute(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"I" * 8 + b"M" * 32)
    return Segment(
        camera_id="cam", run_start_ms=1_700_000_000_000, start_ms=start, end_ms=start + 10_000,
        bytes=40, path=path, init_bytes=8, keyframes=(), video_codec="avc1", has_audio=False,
        id=n + 1,
    )  # fmt: skip


async def test_playback_forgets_segments_far_behind_the_playhead(tmp_path: Path) -> None:
    layout = SegmentLayout(tmp_path)
    segments = [segment(n, layout) for n in range(200)]  # 2000 s
    session = uploads(StoreFake(), FakeClock())
    playback = PlaybackUpload(session, layout, segments, ahead_s=30)
    await playback.prepare()
    runner = asyncio.create_task(playback.run())

    async def listed_at(position_s: float) -> set[str]:
        playback.seek(position_s)
        wanted = {i.media for i in playback.items if position_s <= i.offset_s < position_s + 30}
        for _ in range(10_000):
            if wanted <= set(session.uploaded):
                break
            await asyncio.sleep(0)
        return {n for n in session.uploaded if n.startswith("s")}

    for position in range(0, 1900, 50):
        listed = await listed_at(position)
    runner.cancel()
    # Only the window around the playhead: ahead_s past it, ahead_s behind it.
    first = {i.media for i in playback.items if i.offset_s + i.duration_s >= 1850 - 30}
    assert listed <= first
    assert len(listed) <= 2 * 30 // 10 + 2
    # A seek back that far uploads again what was forgotten.
    runner = asyncio.create_task(playback.run())
    back = await listed_at(0)
    runner.cancel()
    assert "s000000.m4s" in back


class MotionFake:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def thumbnail_path(self, event_id: int) -> Path | None:
        path = self.folder / f"{event_id}.jpg"
        path.write_bytes(f"jpeg {event_id}".encode())
        return path


class Event:
    def __init__(self, event_id: int) -> None:
        self.id, self.camera_id, self.thumbnail = event_id, "cam", "t.jpg"


async def test_thumbnails_remembered_are_bounded_in_number_and_age(tmp_path: Path) -> None:
    clock, store = FakeClock(), StoreFake()
    secret = MediaSecret.load_or_create(tmp_path / "secret")
    publisher = ThumbnailPublisher(
        "r", secret, RelayRights(ControlFake()), store, MotionFake(tmp_path), clock,  # type: ignore[arg-type]
        lambda: True,
    )  # fmt: skip
    bound = thumbnails.MAX_REMEMBERED
    for n in range(bound + 100):
        assert await publisher.publish(Event(n))  # type: ignore[arg-type]
    assert publisher.remembered == bound
    assert not await publisher.publish(Event(bound + 99))  # type: ignore[arg-type]
    assert await publisher.publish(Event(0))  # type: ignore[arg-type]  # forgotten: sent again
    clock.advance(REUPLOAD_S + 1)
    assert await publisher.publish(Event(1))  # type: ignore[arg-type]
    assert publisher.remembered == 1  # the rest were older than the re-upload age
