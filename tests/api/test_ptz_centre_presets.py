"""Click-to-centre and preset management through the API, against the fake ONVIF camera whose
head really moves (tests/onvif/fake_ptz.py), driven by the real zeep client."""

from __future__ import annotations

import math

import pytest

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api

PTZ = "/api/v1/cameras/cam1/ptz"


async def _status(api: Api, headers: dict[str, str]) -> dict[str, float]:
    response = await api.client.get(f"{PTZ}/status", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_click_right_of_centre_pans_the_head_by_its_angle(api: Api) -> None:
    admin = await api.headers()
    before = await _status(api, admin)
    assert (before["pan"], before["tilt"], before["moving"]) == (0, 0, False)
    # Three quarters across and a quarter down a 16:9 picture of a 60° lens on a 360° x 90° head.
    response = await api.client.post(
        f"{PTZ}/centre", json={"x": 0.75, "y": 0.25, "aspect": 16 / 9}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["method"] == "relative"
    half_v = math.atan(math.tan(math.radians(30)) * 9 / 16)
    pan_deg = math.degrees(math.atan(0.5 * math.tan(math.radians(30))))
    tilt_deg = math.degrees(math.atan(0.5 * math.tan(half_v)))
    after = await _status(api, admin)
    assert after["pan"] == pytest.approx(pan_deg / 180, abs=1e-4)  # about 16.1° of 360°
    assert after["tilt"] == pytest.approx(tilt_deg / 45, abs=1e-4)  # about 9.2° of 90°
    [move] = api.onvif.camera.called("RelativeMove")
    assert float(move["PanTilt.x"]) == pytest.approx(pan_deg / 180, abs=1e-4)
    # The centre of the picture is where the camera looks already: nothing moves.
    await api.client.post(f"{PTZ}/centre", json={"x": 0.5, "y": 0.5}, headers=admin)
    assert (await _status(api, admin))["pan"] == pytest.approx(after["pan"], abs=1e-6)
    audit = (await api.client.get("/api/v1/audit?action=camera.ptz", headers=admin)).json()
    assert [a["detail"].get("method") for a in audit] == ["relative", "relative"]


async def test_a_camera_without_relative_moves_is_nudged_toward_the_point(api: Api) -> None:
    admin = await api.headers()
    api.onvif.camera.head.relative = False
    response = await api.client.post(f"{PTZ}/centre", json={"x": 0.1, "y": 0.5}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["method"] == "continuous"
    [move] = api.onvif.camera.called("ContinuousMove")
    assert float(move["PanTilt.x"]) == pytest.approx(-0.4)
    assert move["Timeout"] == "PT0.5S"


async def test_presets_are_saved_gone_to_and_deleted(api: Api) -> None:
    admin = await api.headers()
    await api.client.post(f"{PTZ}/centre", json={"x": 0.9, "y": 0.5}, headers=admin)
    here = await _status(api, admin)
    saved = await api.client.post(f"{PTZ}/presets", json={"name": "Porch"}, headers=admin)
    assert saved.status_code == 201, saved.text
    token = saved.json()["token"]
    listed = (await api.client.get(f"{PTZ}/presets", headers=admin)).json()
    assert {"token": token, "name": "Porch"} in listed
    # Elsewhere, then back to the preset: the head is where it was saved.
    assert (await api.client.post(f"{PTZ}/presets/1/goto", headers=admin)).status_code == 204
    assert (await _status(api, admin))["pan"] == pytest.approx(-0.5)
    assert (await api.client.post(f"{PTZ}/presets/{token}/goto", headers=admin)).status_code == 204
    assert (await _status(api, admin))["pan"] == pytest.approx(here["pan"], abs=1e-5)
    # A second preset of the same name is refused, with the reason.
    again = await api.client.post(f"{PTZ}/presets", json={"name": "Porch"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "camera_refused"
    gone = await api.client.delete(f"{PTZ}/presets/{token}", headers=admin)
    assert gone.status_code == 204
    listed = (await api.client.get(f"{PTZ}/presets", headers=admin)).json()
    assert token not in {p["token"] for p in listed}
    unknown = await api.client.delete(f"{PTZ}/presets/{token}", headers=admin)
    assert unknown.status_code == 409 and "no preset" in unknown.json()["error"]["message"]
    audit = (await api.client.get("/api/v1/audit?action=camera.ptz", headers=admin)).json()
    details = [a["detail"] for a in audit]
    assert any(d.get("preset_saved") == token for d in details)
    assert any(d.get("preset_removed") == token for d in details)


async def test_bad_requests_and_missing_rights_are_refused_before_the_camera(api: Api) -> None:
    admin = await api.headers()
    for body in ({"x": 1.5, "y": 0.5}, {"x": 0.5}, {"x": 0.5, "y": 0.5, "aspect": 0}):
        response = await api.client.post(f"{PTZ}/centre", json=body, headers=admin)
        assert response.status_code == 422, body
    for name in ("", "x" * 65, "<b>"):
        response = await api.client.post(f"{PTZ}/presets", json={"name": name}, headers=admin)
        assert response.status_code == 422, name
    viewer = await api.add_user("op", Role.OPERATOR, {"cam1": {Right.LIVE}})
    calls = len(api.onvif.camera.calls)
    for method, path, body in [
        ("POST", f"{PTZ}/centre", {"x": 0.2, "y": 0.2}),
        ("POST", f"{PTZ}/presets", {"name": "Mine"}),
        ("DELETE", f"{PTZ}/presets/1", None),
        ("GET", f"{PTZ}/status", None),
    ]:
        response = await api.client.request(method, path, json=body, headers=viewer)
        assert response.status_code == 403, path
    assert len(api.onvif.camera.calls) == calls
    api.onvif.camera.ptz = False
    no_ptz = await api.client.post(f"{PTZ}/centre", json={"x": 0.2, "y": 0.2}, headers=admin)
    assert no_ptz.status_code == 409 and no_ptz.json()["error"]["code"] == "camera_unsupported"
