"""Onboarding (discover, probe, add in one step, vendor URLs) and PTZ through the API, against
the fake ONVIF camera on loopback driven by the real zeep client."""

from __future__ import annotations

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api
from tests.onvif.fake_discovery import responder

PTZ = "/api/v1/cameras/cam1/ptz"


async def test_ptz_moves_stops_and_goes_to_presets(api: Api) -> None:
    admin = await api.headers()
    moved = await api.client.post(
        f"{PTZ}/move", json={"pan": 0.5, "tilt": -0.25, "timeout_s": 2}, headers=admin
    )
    assert moved.status_code == 204, moved.text
    [move] = api.onvif.camera.called("ContinuousMove")
    assert (move["PanTilt.x"], move["PanTilt.y"], move["Timeout"]) == ("0.5", "-0.25", "PT2S")
    assert (await api.client.post(f"{PTZ}/stop", headers=admin)).status_code == 204
    assert api.onvif.camera.called("Stop")
    presets = await api.client.get(f"{PTZ}/presets", headers=admin)
    assert presets.json() == [{"token": "1", "name": "Gate"}, {"token": "2", "name": "Yard"}]
    assert (await api.client.post(f"{PTZ}/presets/2/goto", headers=admin)).status_code == 204
    assert api.onvif.camera.called("GotoPreset")[0]["PresetToken"] == "2"
    unknown = await api.client.post(f"{PTZ}/presets/9/goto", headers=admin)
    assert unknown.status_code == 409
    assert unknown.json()["error"]["code"] == "camera_unsupported"
    audit = (await api.client.get("/api/v1/audit?action=camera.ptz", headers=admin)).json()
    assert len(audit) == 2


async def test_ptz_needs_the_ptz_right_and_validates_speeds(api: Api) -> None:
    operator = await api.add_user("op", Role.OPERATOR, {"cam1": {Right.LIVE}})
    refused = await api.client.post(f"{PTZ}/move", json={"pan": 1}, headers=operator)
    assert refused.status_code == 403
    assert not api.onvif.camera.called("ContinuousMove")
    admin = await api.headers()
    for body in ({"pan": 2}, {"zoom": -1.5}, {"timeout_s": 0}, {"timeout_s": 61}, {"roll": 1}):
        response = await api.client.post(f"{PTZ}/move", json=body, headers=admin)
        assert response.status_code == 422, body


async def test_camera_failures_are_502_with_a_reason(api: Api) -> None:
    admin = await api.headers()
    api.onvif.camera.password = "changed-on-the-camera"
    refused = await api.client.post(f"{PTZ}/stop", headers=admin)
    assert refused.status_code == 502
    assert refused.json()["error"]["code"] == "camera_auth"
    # Point the camera's ONVIF at a port where nothing listens.
    changed = await api.client.patch(
        "/api/v1/cameras/cam1", json={"onvif": {"host": "127.0.0.1", "port": 9}}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["onvif"]["port"] == 9
    gone = await api.client.post(f"{PTZ}/stop", headers=admin)
    assert gone.status_code == 502
    assert gone.json()["error"]["code"] == "camera_unreachable"


async def test_probe_describes_the_camera(api: Api) -> None:
    admin = await api.headers()
    body = {"host": "127.0.0.1", "port": api.onvif.port, "username": "admin", "password": "secret"}
    response = await api.client.post("/api/v1/onboarding/probe", json=body, headers=admin)
    assert response.status_code == 200, response.text
    device = response.json()
    assert (device["manufacturer"], device["model"], device["serial"]) == (
        "Acme",
        "Cam 3000",
        "AC-0001",
    )
    assert device["main_url"] == "rtsp://127.0.0.1:554/main"
    assert device["sub_url"] == "rtsp://127.0.0.1:554/sub"
    assert device["ptz"] and device["events"]
    assert [p["token"] for p in device["profiles"]] == ["prof_main", "prof_sub"]
    wrong = await api.client.post(
        "/api/v1/onboarding/probe", json={**body, "password": "guess"}, headers=admin
    )
    assert wrong.status_code == 502 and wrong.json()["error"]["code"] == "camera_auth"
    anonymous = await api.client.post(
        "/api/v1/onboarding/probe",
        json={"host": "127.0.0.1", "port": api.onvif.port},
        headers=admin,
    )
    assert anonymous.status_code == 502 and anonymous.json()["error"]["code"] == "camera_auth"


async def test_onboarding_reaches_only_the_configured_networks(api: Api) -> None:
    admin = await api.headers()
    calls = len(api.onvif.camera.calls)
    # This site allows 127.0.0.0/8 only; the API must not become a way to call other hosts.
    for host in ("10.0.0.5", "8.8.8.8", "example.com", "localhost"):
        response = await api.client.post(
            "/api/v1/onboarding/probe", json={"host": host, "port": 80}, headers=admin
        )
        assert response.status_code == 403, host
        assert "[onboarding]" in response.json()["error"]["message"]
    discover = await api.client.post(
        "/api/v1/onboarding/discover", json={"targets": ["192.168.1.255"]}, headers=admin
    )
    assert discover.status_code == 403
    no_multicast = await api.client.post("/api/v1/onboarding/discover", json={}, headers=admin)
    assert no_multicast.status_code == 400
    assert len(api.onvif.camera.calls) == calls


async def test_onboarding_is_for_admins(api: Api) -> None:
    operator = await api.add_user("op", Role.OPERATOR, {"cam1": set(Right)})
    for path, body in [
        ("/api/v1/onboarding/probe", {"host": "127.0.0.1"}),
        ("/api/v1/onboarding/discover", {"targets": ["127.0.0.1"]}),
        ("/api/v1/onboarding/cameras", {"id": "x", "host": "127.0.0.1"}),
    ]:
        response = await api.client.post(path, json=body, headers=operator)
        assert response.status_code == 403, path
    urls = await api.client.get(
        "/api/v1/onboarding/rtsp-urls?vendor=axis&host=10.0.0.2", headers=operator
    )
    assert urls.status_code == 403


async def test_discovery_finds_the_camera_and_it_is_added_in_one_step(api: Api) -> None:
    admin = await api.headers()
    xaddr = f"{api.onvif.base}/onvif/device_service"
    with responder(xaddr) as answering:
        found = await api.client.post(
            "/api/v1/onboarding/discover",
            json={"targets": [f"127.0.0.1:{answering.port}"], "timeout_s": 0.5},
            headers=admin,
        )
    assert found.status_code == 200, found.text
    [device] = found.json()["devices"]
    assert (device["host"], device["port"], device["name"]) == (
        "127.0.0.1",
        api.onvif.port,
        "Porch Cam",
    )
    assert device["known"] is True  # cam1 and cam2 use this ONVIF service already
    add = {
        "id": "porch",
        "host": device["host"],
        "port": device["port"],
        "username": "admin",
        "password": "secret",
        "record_mode": "motion",
    }
    # The stream test runs first: the fake camera's RTSP URL does not play, so nothing is saved.
    refused = await api.client.post("/api/v1/onboarding/cameras", json=add, headers=admin)
    assert refused.status_code == 400 and "connection test failed" in refused.text
    assert (await api.client.get("/api/v1/cameras/porch", headers=admin)).status_code == 404
    created = await api.client.post(
        "/api/v1/onboarding/cameras", json={**add, "test": False}, headers=admin
    )
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["name"] == "Acme Cam 3000"
    assert camera["main_url"] == "rtsp://127.0.0.1:554/main"
    assert camera["sub_url"] == "rtsp://127.0.0.1:554/sub"
    assert camera["record_mode"] == "motion"
    assert camera["motion"]["source"] == "both"  # the camera offers ONVIF events
    assert camera["onvif"]["port"] == api.onvif.port
    assert "password" not in created.text and "secret" not in created.text
    stored = api.parts.context.camera("porch")
    assert stored.username == "admin" and stored.password is not None
    assert stored.password.get_secret_value() == "secret"
    again = await api.client.post(
        "/api/v1/onboarding/cameras", json={**add, "test": False}, headers=admin
    )
    assert again.status_code == 409


async def test_vendor_rtsp_urls(api: Api) -> None:
    admin = await api.headers()
    base = "/api/v1/onboarding/rtsp-urls"
    hik = await api.client.get(f"{base}?vendor=hikvision&host=192.168.1.64", headers=admin)
    assert hik.status_code == 200, hik.text
    assert hik.json() == {
        "main_url": "rtsp://192.168.1.64/Streaming/Channels/101",
        "sub_url": "rtsp://192.168.1.64/Streaming/Channels/102",
    }
    generic = await api.client.get(f"{base}?vendor=generic&host=cam.lan", headers=admin)
    assert generic.status_code == 400 and "path" in generic.json()["error"]["message"]
    unknown = await api.client.get(f"{base}?vendor=acme&host=cam.lan", headers=admin)
    assert unknown.status_code == 422
    bad_host = await api.client.get(f"{base}?vendor=axis&host=a b", headers=admin)
    assert bad_host.status_code == 400
