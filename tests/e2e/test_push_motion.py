"""Scripted motion to a phone: a simulated camera shows an object crossing at known times, the
real recorder detects it, and the push service on loopback receives the notification; it
decrypts to an event the API lists, and its thumbnail downloads (authenticated) as a JPEG.
Prints event_to_push_s: from the scripted pass's start to the push service receiving it."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from sim import CameraSpec, MotionPass, MotionScene, SimCluster
from sim.push_service import Browser, LocalPushService
from tests.e2e.harness import camera_entry, make_config
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow

LOOP_S = 15
PASS = (7.0, 10.0)
SCENE = MotionScene(
    duration_s=LOOP_S,
    passes=(MotionPass(*PASS, (-0.06, 0.5), (1.06, 0.5), (0.12, 0.22)),),
)


def test_scripted_motion_reaches_the_subscriber(tmp_path: Path) -> None:
    with SimCluster([CameraSpec("yard", SCENE)]) as cluster, LocalPushService() as pusher:
        config = make_config(
            tmp_path,
            [camera_entry("yard", cluster.cameras["yard"], name="Yard")],
            push={"allow_loopback": True},
        )
        with RecorderThread(config) as thread, httpx.Client(base_url=thread.http_url) as http:
            login = http.post(
                "/api/v1/auth/login", json={"username": "admin", "password": thread.admin_password}
            )
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
            phone = Browser()
            answer = http.post(
                "/api/v1/push/subscriptions",
                json={"endpoint": pusher.endpoint("phone"), "keys": phone.keys()},
                headers=admin,
            )
            assert answer.status_code == 201, answer.text
            (request,) = pusher.wait_for("phone", 1, timeout=3 * LOOP_S + 20)
            message = phone.decrypt(request.body)
            # The pass that started last before the notification arrived.
            loop = math.floor((request.at - PASS[0]) / LOOP_S)
            scripted_s = loop * LOOP_S + PASS[0]
            print(f"event_to_push_s={request.at - scripted_s:.3f} (from the scripted start)")
            assert 0 < request.at - scripted_s < 5
            assert message["camera_id"] == "yard" and message["kind"] == "motion"
            listed = http.get("/api/v1/events?camera=yard", headers=admin).json()["events"]
            assert message["event_id"] in {e["id"] for e in listed}
            deadline = time.monotonic() + 20
            while True:  # a motion event's thumbnail is written moments after its start
                thumb = http.get(message["thumbnail"], headers=admin)
                if thumb.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
