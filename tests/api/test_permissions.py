"""Roles and per-camera rights, enforced on every camera endpoint."""

from __future__ import annotations

import re

import pytest

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api

T0 = 1_700_000_000_000
RANGE = f"start={T0}&end={T0 + 600_000}"
# Query strings that make each camera endpoint valid, so a 403 is about rights, not input.
QUERIES = {
    "/timeline": RANGE,
    "/playback.m3u8": RANGE,
    "/calendar": "start=2023-11-01&end=2023-11-30",
    "/seek": f"t={T0 + 5_000}",
    "/preview.jpg": f"t={T0 + 5_000}",
}


async def camera_endpoints(api: Api, camera: str) -> list[tuple[str, str]]:
    segment = (await api.segments(camera))[0]
    live = api.parts.context.live(camera)
    playlist = live.playlist() if live else ""
    sequence = next(
        (line.split(":")[1] for line in playlist.splitlines() if "MEDIA-SEQUENCE" in line), "0"
    )
    out = []
    for template, operations in api.parts.server.app.openapi()["paths"].items():
        if not template.startswith("/api/v1/cameras/{camera_id}"):
            continue
        path = template.replace("{camera_id}", camera).replace("{segment_id}", str(segment.id))
        path = path.replace("{sequence}", sequence)
        path = re.sub(r"\{[a-z_]+\}", "1", path)
        query = next((q for suffix, q in QUERIES.items() if path.endswith(suffix)), "")
        for method in operations:
            out.append((method.upper(), f"{path}?{query}" if query else path))
    # Destructive calls last, and the camera's own deletion last of all.
    whole = ("DELETE", f"/api/v1/cameras/{camera}")
    return sorted(out, key=lambda item: (item[0] == "DELETE", item == whole))


def body_for(path: str) -> dict[str, object]:
    """A valid body for the endpoints that take one, so a 403 is about rights."""
    if path.endswith("/clips"):
        return {"start": str(T0), "end": str(T0 + 5_000)}
    if path.endswith("/ptz/centre"):
        return {"x": 0.75, "y": 0.25}
    if path.endswith("/ptz/presets"):
        return {"name": "Permissions check"}
    return {}


async def test_admin_reaches_every_camera_endpoint(api: Api) -> None:
    admin = await api.headers()
    for method, path in await camera_endpoints(api, "cam1"):
        response = await api.client.request(method, path, headers=admin, json=body_for(path))
        assert response.status_code < 300, (method, path, response.text)


async def test_a_viewer_without_the_camera_gets_403_everywhere_on_it(api: Api) -> None:
    viewer = await api.add_user("vic", Role.VIEWER, {"cam2": {Right.LIVE, Right.PLAYBACK}})
    endpoints = await camera_endpoints(api, "cam1")
    assert len(endpoints) >= 7
    for method, path in endpoints:
        response = await api.client.request(method, path, headers=viewer, json=body_for(path))
        expected = 404 if (method, path) == ("GET", "/api/v1/cameras/cam1") else 403
        assert response.status_code == expected, (method, path, response.text)
    listed = (await api.client.get("/api/v1/cameras", headers=viewer)).json()
    assert [c["id"] for c in listed] == ["cam2"]


@pytest.mark.parametrize(
    ("granted", "allowed", "refused"),
    [
        (
            {Right.LIVE},
            ["/snapshot.jpg", "/status"],
            ["/playback.m3u8", "/timeline", "/seek", "/preview.jpg"],
        ),
        (
            {Right.PLAYBACK},
            ["/playback.m3u8", "/timeline", "/seek", "/preview.jpg"],
            ["/snapshot.jpg"],
        ),
    ],
)
async def test_rights_are_checked_one_by_one(
    api: Api, granted: set[Right], allowed: list[str], refused: list[str]
) -> None:
    viewer = await api.add_user("val", Role.VIEWER, {"cam1": granted})
    base = "/api/v1/cameras/cam1"
    for suffix in allowed + refused:
        query = QUERIES.get(suffix, "")
        response = await api.client.get(f"{base}{suffix}?{query}", headers=viewer)
        assert (response.status_code == 403) == (suffix in refused), (suffix, response.text)


async def test_a_viewer_cannot_be_given_export_or_ptz(api: Api) -> None:
    admin = await api.headers()
    created = await api.client.post(
        "/api/v1/users",
        json={"username": "vince", "password": "long-enough-pw", "role": "viewer"},
        headers=admin,
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    response = await api.client.put(
        f"/api/v1/users/{user_id}/cameras/cam1", json={"rights": ["export"]}, headers=admin
    )
    assert response.status_code == 400 and "viewer cannot have" in response.text
    response = await api.client.put(
        f"/api/v1/users/{user_id}/cameras/nope", json={"rights": ["live"]}, headers=admin
    )
    assert response.status_code == 404


async def test_only_admins_manage_users_and_read_the_audit_log(api: Api) -> None:
    operator = await api.add_user("otto", Role.OPERATOR, {"cam1": set(Right)})
    for method, path in [
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/users"),
    ]:
        response = await api.client.request(method, path, headers=operator, json={})
        assert response.status_code == 403, (method, path)


async def test_the_last_admin_cannot_be_removed(api: Api) -> None:
    admin = await api.headers()
    me = (await api.client.get("/api/v1/auth/me", headers=admin)).json()
    assert (await api.client.delete(f"/api/v1/users/{me['id']}", headers=admin)).status_code == 409
    demote = await api.client.patch(
        f"/api/v1/users/{me['id']}", json={"role": "viewer"}, headers=admin
    )
    assert demote.status_code == 409


async def test_audit_log_records_logins_video_access_and_permission_changes(api: Api) -> None:
    await api.client.post("/api/v1/auth/login", json={"username": "admin", "password": "nope-nope"})
    admin = await api.headers()
    await api.client.get(f"/api/v1/cameras/cam1/playback.m3u8?{RANGE}", headers=admin)
    await api.client.get("/api/v1/cameras/cam1/snapshot.jpg", headers=admin)
    await api.add_user("ann", Role.VIEWER, {"cam1": {Right.LIVE}})
    entries = (await api.client.get("/api/v1/audit", headers=admin)).json()
    seen = {(e["action"], e["outcome"]) for e in entries}
    assert {
        ("auth.login", "denied"),
        ("auth.login", "ok"),
        ("video.playback", "ok"),
        ("video.snapshot", "ok"),
    } <= seen
    videos = (
        await api.client.get("/api/v1/audit?action=video.&camera_id=cam1", headers=admin)
    ).json()
    assert {e["action"] for e in videos} == {"video.playback", "video.snapshot"}
    assert all(e["actor"] == "admin" for e in videos)


@pytest.mark.parametrize(
    "body",
    [
        {"disabled": "yes"},
        {"disabled": 1},
        {"disabled": "true"},
        {"role": "viewer", "disabled": 0},
        {"password": 12345678901},
    ],
)
async def test_user_changes_take_strict_types(api: Api, body: dict[str, object]) -> None:
    await api.add_user("stella", Role.VIEWER)
    admin = await api.headers()
    stella = next(
        u
        for u in (await api.client.get("/api/v1/users", headers=admin)).json()
        if u["username"] == "stella"
    )
    response = await api.client.patch(f"/api/v1/users/{stella['id']}", json=body, headers=admin)
    assert response.status_code == 422, response.text
    after = await api.client.get(f"/api/v1/users/{stella['id']}", headers=admin)
    assert after.json()["disabled"] is False and after.json()["role"] == "viewer"
