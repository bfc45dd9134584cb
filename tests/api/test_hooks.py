"""Signed webhooks: an integration created by an admin posts events (doorbell, alarm, number
plate) that are listed, marked on the timeline, sent on /ws and protect their recording like
motion events; anything unsigned, badly signed, stale or replayed is refused and audited."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets

from recorder.accounts.model import Right, Role
from recorder.integrations.signature import sign
from tests.api.conftest import START, Api, served

T0 = round(START * 1000)
HOOKS = "/api/v1/hooks"


def _jpeg(width: int = 640, height: int = 360) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    cv2.rectangle(image, (100, 100), (300, 200), (255, 255, 255), -1)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


async def _integration(api: Api, name: str, cameras: list[str] | None = None) -> str:
    admin = await api.headers()
    body: dict[str, Any] = {"name": name}
    if cameras is not None:
        body["cameras"] = cameras
    created = await api.client.post("/api/v1/integrations", json=body, headers=admin)
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    assert len(secret) >= 40
    return secret


def _signed(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "X-SkyCam-Timestamp": str(timestamp),
        "X-SkyCam-Signature": sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


async def _post(api: Api, name: str, secret: str, event: dict[str, Any], *, skew_s: int = 0) -> Any:
    body = json.dumps(event).encode()
    headers = _signed(secret, body, int(api.clock.now()) + skew_s)
    return await api.client.post(f"{HOOKS}/{name}", content=body, headers=headers)


async def test_a_signed_plate_read_becomes_an_event_everywhere(api: Api, tmp_path: Path) -> None:
    secret = await _integration(api, "gate-lpr")
    viewer = await api.login_as_new("vince", Role.VIEWER, {"cam1": {Right.PLAYBACK}})
    async with served(api, tmp_path) as port:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws")
        await ws.send(json.dumps({"type": "auth", "token": viewer["access_token"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
        at_ms = T0 + 20_000
        event = {
            "camera_id": "cam1", "kind": "plate", "label": "AB-123-CD", "confidence": 0.93,
            "at_ms": at_ms, "jpeg": base64.b64encode(_jpeg()).decode(),
        }  # fmt: skip
        answer = await _post(api, "gate-lpr", secret, event)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        notices = []
        while len(notices) < 2:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"].startswith("event."):
                notices.append(message)
        await ws.close()
    assert [n["type"] for n in notices] == ["event.start", "event.end"]
    assert notices[0]["event"]["id"] == created["id"]
    assert (notices[0]["event"]["kind"], notices[0]["event"]["label"]) == ("plate", "AB-123-CD")

    admin = await api.headers()
    listed = (await api.client.get("/api/v1/events?source=external", headers=admin)).json()
    assert [
        (e["id"], e["kind"], e["label"], e["score"], e["source"]) for e in listed["events"]
    ] == [(created["id"], "plate", "AB-123-CD", 0.93, "external")]
    assert created["has_thumbnail"] is True
    thumb = await api.client.get(f"/api/v1/events/{created['id']}/thumbnail.jpg", headers=admin)
    assert thumb.status_code == 200
    picture = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] == 640
    timeline = await api.client.get(
        f"/api/v1/cameras/cam1/timeline?start={T0}&end={T0 + 3_600_000}", headers=admin
    )
    markers = [m for m in timeline.json()["events"] if m["id"] == created["id"]]
    assert [(m["start_ms"], m["kind"], m["label"]) for m in markers] == [
        (at_ms, "plate", "AB-123-CD")
    ]
    # Its recording is protected like a motion event's: pre-roll to post-roll.
    events_config = api.config.events
    protections = await api.index.protections(camera_id="cam1")
    mine = [p for p in protections if p.reason == f"event:{created['id']}"]
    assert [(p.start_ms, p.end_ms) for p in mine] == [
        (
            at_ms - round(events_config.pre_roll_s * 1000),
            at_ms + round(events_config.post_roll_s * 1000),
        )
    ]
    audit = (await api.client.get("/api/v1/audit?action=hook.", headers=admin)).json()
    assert [(e["action"], e["actor"]) for e in audit] == [("hook.event", "integration:gate-lpr")]


async def test_unsigned_badly_signed_stale_and_replayed_requests_are_refused(api: Api) -> None:
    secret = await _integration(api, "doorbell")
    event = {"camera_id": "cam1", "kind": "doorbell"}
    body = json.dumps(event).encode()
    now = int(api.clock.now())
    cases = {
        "unsigned": {"Content-Type": "application/json"},
        "wrong secret": _signed("not-the-secret", body, now),
        "stale": _signed(secret, body, now - 301),
        "future": _signed(secret, body, now + 301),
        "timestamp not signed": {**_signed(secret, body, now), "X-SkyCam-Timestamp": str(now - 1)},
        "bad timestamp": {**_signed(secret, body, now), "X-SkyCam-Timestamp": "soon"},
    }
    for case, headers in cases.items():
        answer = await api.client.post(f"{HOOKS}/doorbell", content=body, headers=headers)
        assert answer.status_code == 401, (case, answer.text)
    # The body changed after signing: refused.
    tampered = json.dumps({**event, "camera_id": "cam2"}).encode()
    answer = await api.client.post(
        f"{HOOKS}/doorbell", content=tampered, headers=_signed(secret, body, now)
    )
    assert answer.status_code == 401
    # An unknown integration answers exactly as a bad signature does.
    unknown = await api.client.post(
        f"{HOOKS}/nobody", content=body, headers=_signed(secret, body, now)
    )
    wrong = await api.client.post(
        f"{HOOKS}/doorbell", content=body, headers=_signed("x" * 43, body, now)
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    # Once accepted, the same signed request is a replay.
    headers = _signed(secret, body, now)
    first = await api.client.post(f"{HOOKS}/doorbell", content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await api.client.post(f"{HOOKS}/doorbell", content=body, headers=headers)
    assert again.status_code == 401 and "replayed" in again.text
    admin = await api.headers()
    audit = (await api.client.get("/api/v1/audit?action=hook.denied", headers=admin)).json()
    assert len(audit) == len(cases) + 4
    assert {e["outcome"] for e in audit} == {"denied"}
    events = (await api.client.get("/api/v1/events?source=external", headers=admin)).json()
    assert len(events["events"]) == 1


async def test_an_integration_reports_only_on_its_cameras(api: Api) -> None:
    secret = await _integration(api, "alarm-panel", ["cam2"])
    refused = await _post(api, "alarm-panel", secret, {"camera_id": "cam1", "kind": "alarm"})
    assert refused.status_code == 403 and "cam1" in refused.text
    accepted = await _post(
        api, "alarm-panel", secret, {"camera_id": "cam2", "kind": "alarm", "label": "zone 3"}
    )
    assert accepted.status_code == 201, accepted.text
    missing = await _post(api, "alarm-panel", secret, {"camera_id": "nope", "kind": "alarm"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"camera_id": "cam1", "kind": "doorbell", "confidence": "high"}, "confidence"),
        ({"camera_id": "cam1", "kind": "Door Bell"}, "kind"),
        ({"camera_id": "cam1", "kind": "x", "jpeg": "not base64!"}, "jpeg"),
        ({"camera_id": "cam1", "kind": "x", "jpeg": base64.b64encode(b"GIF89a").decode()}, "jpeg"),
        ({"camera_id": "cam1", "kind": "x", "at_ms": T0 - 86_400_000}, "at_ms"),
        ({"camera_id": "cam1", "kind": "x", "extra": 1}, "extra"),
    ],
)
async def test_a_signed_but_bad_event_gets_a_reason(
    api: Api, event: dict[str, Any], reason: str
) -> None:
    secret = await _integration(api, "panel")
    answer = await _post(api, "panel", secret, event)
    assert 400 <= answer.status_code < 500 and answer.status_code != 401, answer.text
    assert reason in answer.json()["error"]["message"]


async def test_integrations_are_for_admins_and_their_secret_is_shown_once(api: Api) -> None:
    secret = await _integration(api, "door")
    admin = await api.headers()
    operator = await api.add_user("oscar", Role.OPERATOR, {"cam1": set(Right)})
    for method, path in [
        ("GET", "/api/v1/integrations"),
        ("POST", "/api/v1/integrations"),
        ("DELETE", "/api/v1/integrations/door"),
    ]:
        answer = await api.client.request(method, path, json={"name": "x"}, headers=operator)
        assert answer.status_code == 403, (method, path)
    listed = await api.client.get("/api/v1/integrations", headers=admin)
    assert [i["name"] for i in listed.json()] == ["door"]
    audit = await api.client.get("/api/v1/audit", headers=admin)
    assert secret not in listed.text and secret not in audit.text
    again = await api.client.post("/api/v1/integrations", json={"name": "door"}, headers=admin)
    assert again.status_code == 409
    unknown_camera = await api.client.post(
        "/api/v1/integrations", json={"name": "d2", "cameras": ["nope"]}, headers=admin
    )
    assert unknown_camera.status_code == 404
    deleted = await api.client.delete("/api/v1/integrations/door", headers=admin)
    assert deleted.status_code == 204
    gone = await _post(api, "door", secret, {"camera_id": "cam1", "kind": "doorbell"})
    assert gone.status_code == 401


async def test_a_client_that_keeps_failing_waits_and_stops_filling_the_audit_log(api: Api) -> None:
    secret = await _integration(api, "doorbell")
    body = json.dumps({"camera_id": "cam1", "kind": "doorbell"}).encode()
    now = int(api.clock.now())
    app = api.parts.server.app

    def from_address(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://recorder")

    async with from_address("198.51.100.7") as attacker, from_address("198.51.100.8") as device:
        answers = [
            (
                await attacker.post(
                    f"{HOOKS}/doorbell", content=body, headers=_signed("guess", body, now + n)
                )
            ).status_code
            for n in range(40)
        ]
        assert answers[:30] == [401] * 30 and set(answers[30:]) == {429}
        # The real device, from its own address, is not locked out.
        answer = await device.post(
            f"{HOOKS}/doorbell", content=body, headers=_signed(secret, body, now)
        )
        assert answer.status_code == 201, answer.text
    admin = await api.headers()
    audit = (await api.client.get("/api/v1/audit?action=hook.denied", headers=admin)).json()
    assert len(audit) == 30
