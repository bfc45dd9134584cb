"""ONVIF motion events: PullPoint over real SOAP, into activity, into stored events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from recorder.capture.replay import ReplayOpener
from recorder.clock import SystemClock
from recorder.config import CameraConfig, RecorderConfig
from recorder.motion.activity import ActivityEnded, ActivityImproved, ActivityStarted, Signal
from recorder.motion.model import EventNotice, EventQuery, EventSource, NoticeKind
from recorder.motion.onvif_source import OnvifMotionSource
from recorder.motion.service import MotionService
from recorder.motion.store import SqliteEventStore
from recorder.onvif.config import OnvifConfig, OnvifEndpoint
from recorder.onvif.device import ZeepOnvifDevice
from recorder.onvif.notifications import Notification, motion_state
from recorder.storage.sqlite_index import SqliteSegmentIndex

from .fake_device import FakeOnvifDevice


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_pullpoint_delivers_motion_renews_and_unsubscribes(
    device: FakeOnvifDevice, endpoint: OnvifEndpoint
) -> None:
    async with ZeepOnvifDevice(endpoint) as onvif:
        subscription = await onvif.subscribe()
        device.camera.push_motion(True)
        device.camera.push_motion(False, topic="tns1:VideoSource/MotionAlarm")
        notes = await subscription.pull(1.0)
        assert [n.topic for n in notes] == [
            "RuleEngine/CellMotionDetector/Motion",
            "VideoSource/MotionAlarm",
        ]
        assert [motion_state(n) for n in notes] == [True, False]
        assert await subscription.pull(0.2) == []  # nothing pending: waits, then empty
        subscription.renew_soon()  # type: ignore[attr-defined]
        await until(lambda: bool(device.camera.called("Renew")))
        await subscription.close()
    assert device.camera.called("Unsubscribe")
    assert not any(device.camera.subscriptions.values())


def test_motion_topics_and_values() -> None:
    def note(topic: str, name: str, value: str) -> Notification:
        return Notification(topic, (), ((name, value),))

    assert motion_state(note("RuleEngine/CellMotionDetector/Motion", "IsMotion", "true"))
    assert motion_state(note("RuleEngine/MotionRegionDetector/Motion", "State", "1"))
    assert motion_state(note("VideoSource/MotionAlarm", "State", "false")) is False
    assert (
        motion_state(note("VideoSource/GlobalSceneChange/ImagingService", "State", "true")) is None
    )
    assert motion_state(note("RuleEngine/CellMotionDetector/Motion", "Other", "true")) is None


async def test_motion_source_turns_notifications_into_activity(
    device: FakeOnvifDevice, endpoint: OnvifEndpoint
) -> None:
    signals: list[Signal] = []
    source = OnvifMotionSource(
        "front",
        lambda: ZeepOnvifDevice(endpoint),
        signals.append,
        SystemClock(),
        end_after_s=1.0,
        pull_timeout_s=0.3,
    )
    shutdown = asyncio.Event()
    task = asyncio.create_task(source.run(shutdown))
    await until(lambda: source.subscriptions == 1)
    device.camera.push_motion(True)
    await until(lambda: any(isinstance(s, ActivityStarted) for s in signals))
    # The snapshot follows as a better sighting, with a picture.
    await until(lambda: any(isinstance(s, ActivityImproved) for s in signals))
    device.camera.push_motion(False)
    await until(lambda: any(isinstance(s, ActivityEnded) for s in signals), timeout_s=5)
    start = next(s for s in signals if isinstance(s, ActivityStarted))
    end = next(s for s in signals if isinstance(s, ActivityEnded))
    assert 0 <= end.at - start.at < 1.5
    # The camera reboots: its subscription is gone; the source subscribes again.
    for path in device.camera.subscriptions:
        device.camera.subscriptions[path] = False
    await until(lambda: source.subscriptions == 2, timeout_s=15)
    shutdown.set()
    await task
    assert device.camera.called("Unsubscribe")


async def test_a_camera_without_events_stops_its_source_quietly(tmp_path: Path) -> None:
    from .fake_device import FakeCamera, fake_device

    with fake_device(FakeCamera(events=False)) as plain:
        endpoint = OnvifEndpoint("127.0.0.1", plain.port, "admin", "secret", timeout_s=5)
        source = OnvifMotionSource("x", lambda: ZeepOnvifDevice(endpoint), print, SystemClock())
        await asyncio.wait_for(source.run(asyncio.Event()), 10)
        assert "no events" in source.last_error


def onvif_config(tmp_path: Path, device: FakeOnvifDevice, source: str, url: str) -> RecorderConfig:
    camera = CameraConfig(
        id="front",
        main_url=url,
        username="admin",
        password="secret",  # type: ignore[arg-type]
        onvif=OnvifConfig(host="127.0.0.1", port=device.port, timeout_s=5),
        motion={"source": source, "end_after_s": 1.0, "cooldown_s": 0},  # type: ignore[arg-type]
    )
    return RecorderConfig(data_dir=tmp_path, cameras=(camera,))


async def run_service(
    config: RecorderConfig, tmp_path: Path, body: Callable[[MotionService], object], **kw: object
) -> list[EventNotice]:
    notices: list[EventNotice] = []
    async with SqliteSegmentIndex(tmp_path / "index.sqlite3") as index:
        service = MotionService(config, index, SystemClock(), **kw)  # type: ignore[arg-type]
        service.bus.add_listener(notices.append)
        shutdown = asyncio.Event()
        task = asyncio.create_task(service.run(shutdown))
        await service.ready.wait()
        try:
            await body(service)  # type: ignore[misc]
        finally:
            shutdown.set()
            await task
    return notices


async def test_onvif_motion_becomes_a_stored_event_with_a_thumbnail(
    tmp_path: Path, device: FakeOnvifDevice
) -> None:
    config = onvif_config(tmp_path, device, "onvif", "rtsp://127.0.0.1:9/unused")

    async def body(service: MotionService) -> None:
        kinds: list[NoticeKind] = []
        service.bus.add_listener(lambda notice: kinds.append(notice.kind))
        await until(lambda: service.onvif["front"].subscriptions == 1)
        device.camera.push_motion(True)
        await until(lambda: NoticeKind.START in kinds)
        await asyncio.sleep(1.5)  # the scenario: the camera reports motion for 1.5 s
        device.camera.push_motion(False)
        await until(lambda: NoticeKind.END in kinds, timeout_s=10)  # after 1 s of calm

    notices = await run_service(config, tmp_path, body)
    assert notices[0].kind is NoticeKind.START
    assert notices[-1].kind is NoticeKind.END
    async with SqliteEventStore(tmp_path / "events.sqlite3") as store:
        [event] = (await store.query(EventQuery())).events
    assert event.source is EventSource.ONVIF and event.box is None
    assert event.end_ms is not None and 1.0 <= (event.end_ms - event.start_ms) / 1000 <= 2.5
    assert event.thumbnail is not None and (tmp_path / event.thumbnail).stat().st_size > 0


async def test_software_and_onvif_motion_make_one_event(
    tmp_path: Path, device: FakeOnvifDevice, make_clip: Callable[..., Path]
) -> None:
    # The clip moves all the time, so software detection opens an event; ONVIF joins it.
    clip = make_clip(seconds=12, size="320x240", audio=False)
    config = onvif_config(tmp_path, device, "both", "rtsp://127.0.0.1:9/replayed")
    seen: list[EventNotice] = []

    async def body(service: MotionService) -> None:
        service.bus.add_listener(seen.append)
        await until(lambda: service.bus.published >= 1, timeout_s=8)
        assert seen[0].event.source is EventSource.SOFTWARE
        await until(lambda: service.onvif["front"].subscriptions == 1)
        device.camera.push_motion(True)
        await until(lambda: any(n.event.source is EventSource.BOTH for n in seen), 8)

    notices = await run_service(config, tmp_path, body, opener=ReplayOpener(clip, SystemClock()))
    assert len({n.event.id for n in notices}) == 1
    assert notices[-1].kind is NoticeKind.END and notices[-1].event.source is EventSource.BOTH
