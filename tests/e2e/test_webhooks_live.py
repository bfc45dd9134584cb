"""A signed webhook end to end: the real recorder recording a simulated camera, an integration
created over HTTP, a number-plate read posted over a real socket, seen on /ws, in /events, and
its recording protected in the real index."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import websockets

from recorder.integrations.signature import sign
from recorder.storage.sqlite_index import SqliteSegmentIndex
from sim import CameraSpec, SimCluster
from tests.e2e.harness import camera_entry, make_config
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow


def test_a_plate_read_from_a_gate_camera_becomes_a_protected_event(tmp_path: Path) -> None:
    spec = CameraSpec("gate", "idle")
    with SimCluster([spec]) as cluster:
        config = make_config(tmp_path, [camera_entry("gate", cluster.cameras["gate"])])
        with RecorderThread(config) as thread, httpx.Client(base_url=thread.http_url) as http:
            login = http.post(
                "/api/v1/auth/login",
                json={"username": "admin", "password": thread.admin_password},
            )
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created = http.post(
                "/api/v1/integrations", json={"name": "gate-lpr", "cameras": ["gate"]},
                headers=admin,
            )  # fmt: skip
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            ok, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 90, np.uint8))
            assert ok
            body = json.dumps(
                {"camera_id": "gate", "kind": "plate", "label": "AB-123-CD",
                 "confidence": 0.9, "jpeg": base64.b64encode(jpeg.tobytes()).decode()}
            ).encode()  # fmt: skip
            ws_url = thread.http_url.replace("http://", "ws://") + "/api/v1/ws"

            async def post_and_listen() -> tuple[httpx.Response, list[dict[str, object]]]:
                async with websockets.connect(ws_url) as ws:
                    await ws.send(
                        json.dumps({"type": "auth", "token": login.json()["access_token"]})
                    )
                    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
                    stamp = int(time.time())
                    headers = {
                        "X-SkyCam-Timestamp": str(stamp),
                        "X-SkyCam-Signature": sign(secret, stamp, body),
                        "Content-Type": "application/json",
                    }
                    async with httpx.AsyncClient(base_url=thread.http_url) as client:
                        answer = await client.post("/api/v1/hooks/gate-lpr", content=body,
                                                   headers=headers)  # fmt: skip
                        replay = await client.post("/api/v1/hooks/gate-lpr", content=body,
                                                   headers=headers)  # fmt: skip
                    assert replay.status_code == 401
                    seen: list[dict[str, object]] = []
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and len(seen) < 2:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if str(message["type"]).startswith("event."):
                            seen.append(message)
                    return answer, seen

            answer, seen = asyncio.run(post_and_listen())
            assert answer.status_code == 201, answer.text
            event = answer.json()
            assert [m["type"] for m in seen] == ["event.start", "event.end"]
            listed = http.get("/api/v1/events?camera=gate", headers=admin).json()["events"]
            assert [(e["id"], e["label"]) for e in listed] == [(event["id"], "AB-123-CD")]
            thumb = http.get(f"/api/v1/events/{event['id']}/thumbnail.jpg", headers=admin)
            assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"

    async def protections() -> list[tuple[int, int]]:
        async with SqliteSegmentIndex(tmp_path / "index.sqlite3") as index:
            found = await index.protections(camera_id="gate")
        return [(p.start_ms, p.end_ms) for p in found if p.reason == f"event:{event['id']}"]

    assert asyncio.run(protections()) == [(event["record_start_ms"], event["record_end_ms"])]
