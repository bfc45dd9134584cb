"""Adding, changing and removing cameras through the API; changes persist."""

from __future__ import annotations

import json

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api, ClipOpener

NEW = {"id": "porch", "name": "Porch", "main_url": "rtsp://good.test/stream1"}


async def test_a_camera_is_tested_saved_and_listed(api: Api) -> None:
    admin = await api.headers()
    body = {**NEW, "username": "admin", "password": "cam-secret"}
    created = await api.client.post("/api/v1/cameras", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert "cam-secret" not in created.text
    listed = {c["id"] for c in (await api.client.get("/api/v1/cameras", headers=admin)).json()}
    assert listed == {"cam1", "cam2", "porch"}
    # Stored for the next start, password included (site.sqlite3 is 0600).
    async with api.parts.context.cameras._db.conn.execute(
        "SELECT config FROM cameras WHERE id = 'porch'"
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None and json.loads(row[0])["password"] == "cam-secret"
    assert (api.config.data_dir / "site.sqlite3").stat().st_mode & 0o777 == 0o600


async def test_a_stream_that_does_not_play_is_refused_unless_asked(api: Api) -> None:
    admin = await api.headers()
    body = {**NEW, "main_url": "rtsp://192.0.2.9/stream1"}
    refused = await api.client.post("/api/v1/cameras", json=body, headers=admin)
    assert refused.status_code == 400 and "connection refused" in refused.text
    saved = await api.client.post("/api/v1/cameras", json={**body, "test": False}, headers=admin)
    assert saved.status_code == 201


async def test_stream_test_describes_the_stream(api: Api) -> None:
    admin = await api.headers()
    ok = await api.client.post(
        "/api/v1/cameras/test", json={"main_url": "rtsp://127.0.0.2/stream1"}, headers=admin
    )
    assert ok.status_code == 200 and ok.json()["video_codec"] == "h264"
    assert ok.json()["width"] == 320


async def test_bad_camera_definitions_name_the_field(api: Api) -> None:
    admin = await api.headers()
    cases = [
        ({**NEW, "id": "Bad Id"}, "id"),
        ({**NEW, "main_url": "http://x/"}, "main_url"),
        ({**NEW, "id": "cam1"}, "already exists"),
        ({**NEW, "colour": "red"}, "colour"),
    ]
    for body, reason in cases:
        response = await api.client.post("/api/v1/cameras", json=body, headers=admin)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert reason in response.text, (body, response.text)


async def test_change_and_delete(api: Api) -> None:
    admin = await api.headers()
    changed = await api.client.patch(
        "/api/v1/cameras/cam2", json={"name": "Garage", "retention_days": 7}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Garage"
    assert api.parts.context.camera("cam2").retention_days == 7
    moved = await api.client.patch(
        "/api/v1/cameras/cam2", json={"main_url": "rtsp://192.0.2.9/x"}, headers=admin
    )
    assert moved.status_code == 400  # the new URL does not play: nothing changed
    assert api.parts.context.camera("cam2").main_url == "rtsp://192.0.2.1/cam2"
    assert (await api.client.delete("/api/v1/cameras/cam2", headers=admin)).status_code == 204
    assert (await api.client.get("/api/v1/cameras/cam2", headers=admin)).status_code == 404
    entries = (await api.client.get("/api/v1/audit?action=camera.", headers=admin)).json()
    assert [e["action"] for e in entries] == ["camera.delete", "camera.change"]


async def test_only_admins_change_cameras(api: Api) -> None:
    operator = await api.add_user("opal", Role.OPERATOR, {"cam1": set(Right)})
    assert (await api.client.post("/api/v1/cameras", json=NEW, headers=operator)).status_code == 403
    response = await api.client.patch("/api/v1/cameras/cam1", json={"name": "x"}, headers=operator)
    assert response.status_code == 403
    assert (await api.client.delete("/api/v1/cameras/cam1", headers=operator)).status_code == 403


async def test_stream_test_reaches_only_the_configured_networks(api: Api) -> None:
    admin = await api.headers()
    opener = api.parts.context.opener
    assert isinstance(opener, ClipOpener)
    # This site allows 127.0.0.0/8 only: /cameras/test must not become a port scanner.
    for url in (
        "rtsp://10.0.0.5/s",
        "rtsp://8.8.8.8:22/s",
        "rtsp://good.test/s",  # names are not resolved, as for the ONVIF probes
        "rtsp://localhost:80/s",
        "rtsp://[2001:db8::1]:554/s",
    ):
        response = await api.client.post(
            "/api/v1/cameras/test", json={"main_url": url}, headers=admin
        )
        assert response.status_code == 403, (url, response.text)
        assert "[onboarding]" in response.json()["error"]["message"]
    assert opener.opened == []
    allowed = await api.client.post(
        "/api/v1/cameras/test", json={"main_url": "rtsp://127.0.0.2:8554/s"}, headers=admin
    )
    assert allowed.status_code == 200
