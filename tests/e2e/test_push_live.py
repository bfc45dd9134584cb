"""Web Push end to end: the real recorder recording a simulated camera, a signed webhook
creating an event over a real socket, and a push service on loopback receiving the
notification, which decrypts (as a browser would) to the event and a thumbnail path that
downloads, authenticated, to the JPEG. A user without the camera gets nothing; a 410 removes
its subscription; the camera's cooldown holds back a second event."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from recorder.integrations.signature import sign
from sim import CameraSpec, SimCluster
from sim.push_service import Browser, LocalPushService
from tests.e2e.harness import camera_entry, make_config
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow


def _until(check: Any, within_s: float = 20) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_webhook_event_reaches_only_the_right_subscribers(tmp_path: Path) -> None:
    spec = CameraSpec("gate", "idle")
    with SimCluster([spec]) as cluster, LocalPushService() as pusher:
        config = make_config(
            tmp_path,
            [camera_entry("gate", cluster.cameras["gate"], name="Gate")],
            push={"allow_loopback": True, "cooldown_s": 600},
        )
        with RecorderThread(config) as thread, httpx.Client(base_url=thread.http_url) as http:

            def login(username: str, password: str) -> dict[str, str]:
                answer = http.post(
                    "/api/v1/auth/login", json={"username": username, "password": password}
                )
                assert answer.status_code == 200, answer.text
                return {"Authorization": f"Bearer {answer.json()['access_token']}"}

            admin = login("admin", thread.admin_password)
            made = http.post(
                "/api/v1/users",
                json={"username": "nocam", "password": "nocam-password-1", "role": "viewer"},
                headers=admin,
            )
            assert made.status_code == 201, made.text
            nocam = login("nocam", "nocam-password-1")
            key = http.get("/api/v1/push/public-key", headers=admin).json()["public_key"]
            phone, stale, other = Browser(), Browser(), Browser()
            for who, name, browser in (
                (admin, "phone", phone), (admin, "stale", stale), (nocam, "nocam", other),
            ):  # fmt: skip
                answer = http.post(
                    "/api/v1/push/subscriptions",
                    json={"endpoint": pusher.endpoint(name), "keys": browser.keys()},
                    headers=who,
                )
                assert answer.status_code == 201, answer.text
            pusher.answer("stale", 410)
            created = http.post(
                "/api/v1/integrations", json={"name": "bell", "cameras": ["gate"]}, headers=admin
            )
            secret = created.json()["secret"]
            ok, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 90, np.uint8))
            assert ok

            def ring(label: str) -> tuple[dict[str, Any], float]:
                body = json.dumps(
                    {"camera_id": "gate", "kind": "doorbell", "label": label,
                     "jpeg": base64.b64encode(jpeg.tobytes()).decode()}
                ).encode()  # fmt: skip
                stamp = int(time.time())
                sent = time.time()
                answer = http.post(
                    "/api/v1/hooks/bell",
                    content=body,
                    headers={
                        "X-SkyCam-Timestamp": str(stamp),
                        "X-SkyCam-Signature": sign(secret, stamp, body),
                        "Content-Type": "application/json",
                    },
                )
                assert answer.status_code == 201, answer.text
                return answer.json(), sent

            event, sent = ring("visitor")
            (request,) = pusher.wait_for("phone", 1)
            print(f"event_to_push_s={request.at - sent:.3f}")
            assert request.at - sent < 5
            message = phone.decrypt(request.body)
            assert message["event_id"] == event["id"] and message["camera_name"] == "Gate"
            scheme, _, params = request.headers["Authorization"].partition(" ")
            assert scheme == "vapid" and f"k={key}" in params
            thumb = http.get(message["thumbnail"], headers=admin)
            assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
            assert http.get(message["thumbnail"]).status_code == 401
            assert http.get(message["thumbnail"], headers=nocam).status_code == 404
            # The 410 removed the stale subscription; the user without the camera got nothing.
            pusher.wait_for("stale", 1)
            _until(lambda: len(http.get("/api/v1/push/subscriptions", headers=admin).json()) == 1)
            assert pusher.to("nocam") == []
            # A second ring within the cooldown is an event, but no notification.
            second, _ = ring("again")
            status = _until(
                lambda: (
                    (s := http.get("/api/v1/push/status", headers=admin).json())["cooldown"] and s
                )
            )
            assert status["notified"] == 1 and status["gone"] == 1
            assert second["id"] != event["id"] and len(pusher.to("phone")) == 1
            assert pusher.to("nocam") == []
