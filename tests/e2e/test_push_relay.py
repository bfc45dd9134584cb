"""Web Push through the relay, real processes on loopback: a simulated camera with scripted
motion -> the recorder (who is told, cooldown, encryption) -> its tunnel -> `skycam relay` (the
relay's VAPID signature, delivery, dedupe) -> the push service on loopback, where the test
decrypts what a browser would. Also: a 410 prunes, a dead relay delays but loses nothing and
doubles nothing, a remote subscription belongs to the enrolled device, and nothing the relay
stores or logs holds a notification's text.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from recorder.config import parse_config
from recorder.integrations.signature import sign
from recorder.push.vapid import VapidKey
from recorder.remote.viewer import RelayLinks
from sim import CameraSpec, MotionPass, MotionScene, SimCluster
from sim.push_service import Browser, LocalPushService
from tests.cloud.relay_host import RelayProcess
from tests.e2e.harness import camera_entry
from tests.e2e.test_tunnel_relay import PASSWORD, Site, enrol, until
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow

CANARY = "canary-9d41e7"  # in camera names and event labels: never at the relay
LOOP_S = 15
PASS = (7.0, 10.0)
SCENE = MotionScene(
    duration_s=LOOP_S, passes=(MotionPass(*PASS, (-0.06, 0.5), (1.06, 0.5), (0.12, 0.22)),)
)
COOLDOWN_S = 20  # the next loop's pass (15 s later) is inside it
DOORS = ("door1", "door2", "door3", "door4", "door5", "door6", "door7", "door8")


@dataclass
class PushSite:
    site: Site
    pusher: LocalPushService
    data_dir: Path
    hook_secret: str

    def lan(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else self.site.admin
        return httpx.Client(base_url=self.site.recorder.http_url, headers=headers, timeout=10)

    def ring(self, camera: str, label: str, jpeg: bytes | None = None) -> int:
        report: dict[str, Any] = {"camera_id": camera, "kind": "doorbell", "label": label}
        if jpeg is not None:
            report["jpeg"] = base64.b64encode(jpeg).decode()
        body = json.dumps(report).encode()
        stamp = int(time.time())
        with self.lan() as lan:
            answer = lan.post(
                "/api/v1/hooks/doors", content=body,
                headers={"X-SkyCam-Timestamp": str(stamp), "Content-Type": "application/json",
                         "X-SkyCam-Signature": sign(self.hook_secret, stamp, body)},
            )  # fmt: skip
        assert answer.status_code in (200, 201), answer.text
        return int(answer.json()["id"])

    def subscribe(self, name: str, browser: Browser, token: str | None = None,
                  cameras: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
        with self.lan(token) as lan:
            answer = lan.post(
                "/api/v1/push/subscriptions",
                json={"endpoint": self.pusher.endpoint(name), "keys": browser.keys(),
                      "cameras": cameras},
            )  # fmt: skip
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def push_status(self) -> dict[str, int]:
        with self.lan() as lan:
            return dict(lan.get("/api/v1/push/status").json())


@pytest.fixture(scope="module")
def push_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushSite]:
    relay = RelayProcess(
        tmp_path_factory.mktemp("relay"), env={"SKYCAM_RELAY_PUSH_ALLOW_LOOPBACK": "true"}
    ).start()
    data_dir = tmp_path_factory.mktemp("site")
    try:
        with SimCluster([CameraSpec("yard", SCENE)]) as cluster, LocalPushService() as pusher:
            doors = [
                {"id": d, "name": f"{d} {CANARY}", "main_url": "rtsp://127.0.0.1:9/off"}
                for d in DOORS
            ]
            config = parse_config(
                {
                    "data_dir": str(data_dir),
                    "cameras": [
                        camera_entry("yard", cluster.cameras["yard"], name=f"Yard {CANARY}"),
                        *doors,
                    ],
                    "api": {"http_port": 0, "https": False},
                    "push": {"allow_loopback": True, "cooldown_s": COOLDOWN_S},
                    "relay": {
                        "url": relay.rest, "ws_url": relay.ws, "backoff_cap_s": 1,
                        "invitation_sync_s": 1,
                    },
                }
            )  # fmt: skip
            with RecorderThread(config) as recorder:
                admin = recorder.admin_headers()
                with httpx.Client(base_url=recorder.http_url, timeout=10) as lan:
                    made = lan.post(
                        "/api/v1/integrations",
                        json={"name": "doors", "cameras": list(DOORS)}, headers=admin,
                    )  # fmt: skip
                    assert made.status_code == 201, made.text
                site = Site(recorder, relay, admin)
                yield PushSite(site, pusher, data_dir, made.json()["secret"])
    finally:
        relay.stop()


def viewer_token(ps: PushSite, name: str, cameras: tuple[str, ...]) -> str:
    password = "a long enough password 1"
    with ps.lan() as lan:
        user = lan.post("/api/v1/users", json={"username": name, "password": password,
                                               "role": "viewer"})  # fmt: skip
        assert user.status_code == 201, user.text
        for camera in cameras:
            lan.put(f"/api/v1/users/{user.json()['id']}/cameras/{camera}",
                    json={"rights": ["live", "playback"]}).raise_for_status()  # fmt: skip
        login = lan.post("/api/v1/auth/login", json={"username": name, "password": password})
    return str(login.json()["access_token"])


def authorization_key(headers: dict[str, str]) -> str:
    fields = dict(p.strip().split("=", 1) for p in headers["Authorization"][6:].split(","))
    return fields["k"]


async def test_scripted_motion_reaches_the_phone_through_the_relay(push_site: PushSite) -> None:
    ps, pusher = push_site, push_site.pusher
    await until(lambda: ps.site.status()["connected"], 30, "the tunnel connected")
    with ps.lan() as lan:
        key = lan.get("/api/v1/push/public-key").json()["public_key"]
    own = VapidKey.load_or_create(ps.data_dir / "secrets" / "vapid.pem", "mailto:a@b.c")
    assert key and key != own.public_key  # with a relay, browsers subscribe with its key

    phone = Browser()
    ps.subscribe("phone", phone, cameras=["yard"])
    stranger = Browser()  # a viewer without the yard camera
    ps.subscribe("stranger", stranger, viewer_token(ps, "neighbour", ("door1",)))

    (request,) = pusher.wait_for("phone", 1, timeout=3 * LOOP_S + 30)
    assert authorization_key(request.headers) == key  # signed by the relay
    message = phone.decrypt(request.body)
    loop = math.floor((request.at - PASS[0]) / LOOP_S)
    print(f"event_to_push_s={request.at - (loop * LOOP_S + PASS[0]):.3f} (through the relay)")
    assert message["camera_id"] == "yard" and message["kind"] == "motion"
    assert CANARY in message["title"]
    assert "remote_thumbnail" in message  # filled by the remote-media work; null until then
    with ps.lan() as lan:
        listed = lan.get("/api/v1/events?camera=yard").json()["events"]
    assert message["event_id"] in {e["id"] for e in listed}

    # The next loop's pass is another event, inside the cooldown: no second push.
    async def second_event() -> bool:
        with ps.lan() as lan:
            events = lan.get("/api/v1/events?camera=yard").json()["events"]
        return any(e["id"] > message["event_id"] for e in events)

    deadline = time.monotonic() + 2 * LOOP_S + 20
    while not await second_event():
        assert time.monotonic() < deadline, "no second motion event"
        await asyncio.sleep(0.5)
    await until(lambda: ps.push_status()["cooldown"] >= 1, 10, "the cooldown counted")
    assert len(pusher.to("phone")) == 1
    assert pusher.to("stranger") == []


async def test_a_410_through_the_relay_removes_the_subscription(push_site: PushSite) -> None:
    ps = push_site
    made = ps.subscribe("unsubscribed", Browser(), cameras=["door1"])
    ps.pusher.answer("unsubscribed", 410)
    ps.ring("door1", f"ring {CANARY}")
    ps.pusher.wait_for("unsubscribed", 1)

    def pruned() -> bool:
        with ps.lan() as lan:
            return made["id"] not in {s["id"] for s in lan.get("/api/v1/push/subscriptions").json()}

    await until(pruned, 20, "the subscription removed")


async def test_events_while_the_relay_is_down_each_arrive_once_after(push_site: PushSite) -> None:
    ps, relay = push_site, push_site.site.relay
    late = Browser()
    ps.subscribe("late", late, cameras=["door2", "door3", "door4"])
    await until(lambda: ps.site.status()["connected"], 30, "connected")
    ports = relay.ports
    relay.stop(signal.SIGKILL)
    await until(lambda: not ps.site.status()["connected"], 30, "the recorder noticed")
    rung = [ps.ring(door, f"ring {CANARY}") for door in ("door2", "door3", "door4")]
    await until(lambda: ps.push_status()["outbox"] >= 3, 20, "three notifications queued")
    assert ps.pusher.to("late") == []
    relay.ports = ports
    relay.start()
    received = ps.pusher.wait_for("late", 3, timeout=60)
    await until(lambda: ps.push_status()["outbox"] == 0, 30, "the outbox emptied")
    await asyncio.sleep(0)  # nothing more may come: the outbox is empty, the relay deduplicates
    received = ps.pusher.to("late")
    assert sorted(late.decrypt(r.body)["event_id"] for r in received) == sorted(rung)


async def test_a_remote_subscription_belongs_to_the_device(push_site: PushSite) -> None:
    ps = push_site
    await until(lambda: ps.site.status()["connected"], 30, "connected")
    device, session, _ = await enrol(ps.site, "phone-owner@example.test")
    async with httpx.AsyncClient(base_url=ps.site.relay.rest, timeout=10) as cloud:
        owner = {"email": "phone-owner@example.test", "password": PASSWORD}
        token = (await cloud.post("/v1/auth/login", json=owner)).json()["access_token"]
        me = await cloud.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    (status,) = me.json()["recorder_status"]
    assert status["online"] is True and status["last_seen"] > time.time() - 3600
    key = (await session.call("GET", "/api/v1/push/public-key")).json()["public_key"]
    remote = Browser()
    answer = await session.call(
        "POST", "/api/v1/push/subscriptions",
        json_body={"endpoint": ps.pusher.endpoint("remote"), "keys": remote.keys(),
                   "cameras": ["door5"]},
    )  # fmt: skip
    assert answer.status == 201, answer.body
    made = answer.json()
    assert made["device_id"] is not None
    sessions = ps.site.status()["sessions"]
    await session.close()
    await until(lambda: ps.site.status()["sessions"] < sessions, 30, "the tunnel session ended")
    await device.close()

    picture = np.zeros((120, 160, 3), np.uint8)
    cv2.circle(picture, (80, 60), 40, (0, 200, 255), -1)
    jpeg = cv2.imencode(".jpg", picture)[1].tobytes()
    # The app is closed: the phone is still told.
    event_id = ps.ring("door5", f"ring {CANARY}", jpeg)
    (request,) = ps.pusher.wait_for("remote", 1, timeout=30)
    message = remote.decrypt(request.body)
    assert message["event_id"] == event_id
    assert authorization_key(request.headers) == key
    # The notification names the relay's sealed copy of the thumbnail and the key that opens
    # it: what the service worker fetches (with a link from the relay) and decrypts.
    reference = message["remote_thumbnail"]
    assert set(reference) == {"key", "k"} and "door5" not in reference["key"]
    with ps.lan() as lan:
        expected = lan.get(f"/api/v1/events/{event_id}/thumbnail.jpg").content
    links = RelayLinks(ps.site.relay.rest, token)
    try:
        deadline = time.monotonic() + 30
        while (opened := await links.thumbnail(reference)) is None:  # uploaded beside the push
            assert time.monotonic() < deadline, "the sealed thumbnail never reached the relay"
            await asyncio.sleep(0.2)
    finally:
        await links.close()
    assert opened == expected and opened[:2] == b"\xff\xd8"

    with ps.lan() as lan:
        listed = {s["id"]: s for s in lan.get("/api/v1/push/subscriptions").json()}
        assert made["id"] in listed
        assert lan.delete(f"/api/v1/relay/devices/{made['device_id']}").status_code == 200
        assert made["id"] not in {s["id"] for s in lan.get("/api/v1/push/subscriptions").json()}


def picture(hue: int) -> bytes:
    """A JPEG of its own for each event."""
    image = np.zeros((120, 160, 3), np.uint8)
    cv2.circle(image, (80, 60), 40, (hue, 200, 255 - hue), -1)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


async def test_thumbnails_of_events_while_the_relay_is_down_reach_it_after(
    push_site: PushSite,
) -> None:
    """The notifications wait in the outbox; the thumbnails they name wait with their events
    on disk and are uploaded at the reconnect: each opens on the phone afterwards."""
    ps, relay = push_site, push_site.site.relay
    await until(lambda: ps.site.status()["connected"], 30, "connected")
    device, session, _ = await enrol(ps.site, "away@example.test")  # a grant: thumbnails go up
    phone = Browser()
    ps.subscribe("away", phone, cameras=["door6", "door7", "door8"])
    ports = relay.ports
    relay.stop(signal.SIGKILL)
    await until(lambda: not ps.site.status()["connected"], 30, "the recorder noticed")
    jpegs = {ps.ring(door, f"ring {CANARY}", picture(40 * n)): picture(40 * n)
             for n, door in enumerate(("door6", "door7", "door8"))}  # fmt: skip
    await until(lambda: ps.push_status()["outbox"] >= 3, 20, "three notifications queued")
    relay.ports = ports
    relay.start()
    received = ps.pusher.wait_for("away", 3, timeout=60)
    async with httpx.AsyncClient(base_url=relay.rest, timeout=10) as cloud:
        login = {"email": "away@example.test", "password": PASSWORD}
        token = (await cloud.post("/v1/auth/login", json=login)).json()["access_token"]
    links = RelayLinks(relay.rest, token)
    try:
        for request in received:
            message = phone.decrypt(request.body)
            deadline = time.monotonic() + 30
            while (opened := await links.thumbnail(message["remote_thumbnail"])) is None:
                assert time.monotonic() < deadline, f"event {message['event_id']}: no thumbnail"
                await asyncio.sleep(0.2)
            with ps.lan() as lan:
                stored = lan.get(f"/api/v1/events/{message['event_id']}/thumbnail.jpg").content
            assert opened == stored and message["event_id"] in jpegs
    finally:
        await links.close()
        await session.close()
        await device.close()


def test_the_relay_stores_and_logs_no_notification_text(push_site: PushSite) -> None:
    """Runs last: after motion, doorbells, a dead link and a remote subscription."""
    ps = push_site
    assert len(ps.pusher.received) >= 5  # the canary did travel (inside the ciphertext)
    needle = CANARY.encode()
    for path in Path(ps.site.relay.data_dir).rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"{path} holds notification text"
    assert CANARY not in ps.site.relay.logs()
