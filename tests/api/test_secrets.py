"""No camera secret in any response or log line: a unique canary password is planted every way
the API takes one, then every response and every captured log record is searched for it."""

from __future__ import annotations

import json
import logging
import secrets
import stat

import httpx
import pytest

from tests.api.conftest import Api


async def test_a_planted_camera_password_appears_in_no_response_and_no_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = "canary" + secrets.token_hex(8)
    admin = await api.headers()
    answers: list[httpx.Response] = []

    async def call(method: str, path: str, body: object = None) -> httpx.Response:
        answer = await api.client.request(method, f"/api/v1{path}", json=body, headers=admin)
        answers.append(answer)
        return answer

    # Credentials inside URLs (main and sub), and as fields; saved, tested, refused.
    inside = f"rtsp://mallory:{canary}@192.0.2.1/cam1"
    patched = await call("PATCH", "/cameras/cam1", {"main_url": inside, "test": False})
    assert patched.status_code == 200, patched.text
    sub = f"rtsp://mallory:{canary}@192.0.2.1/sub"
    assert (await call("PATCH", "/cameras/cam1", {"sub_url": sub, "test": False})).is_success
    created = await call(
        "POST", "/cameras", {"id": "porch", "main_url": inside, "password": canary, "test": False}
    )
    assert created.status_code == 201, created.text
    await call("PATCH", "/cameras/porch", {"password": canary, "main_url": inside})
    await call("POST", "/cameras/test", {"main_url": f"rtsp://u:{canary}@127.0.0.2/x"})
    await call("POST", "/cameras/test", {"main_url": f"rtsp://u:{canary}@127.0.0.1/x"})
    await call("POST", "/cameras/test", {"main_url": f"rtsp://u:{canary}@10.0.0.1/x"})
    await call("POST", "/cameras", {"id": "bad", "main_url": f"http://u:{canary}@x/"})
    await call("PATCH", "/cameras/cam2", {"main_url": f"rtsp://u:{canary}@host:99999/"})
    # Everywhere the secret could come back.
    for path in ("/cameras", "/cameras/cam1", "/cameras/porch", "/audit", "/audit?action=camera"):
        assert (await call("GET", path)).status_code == 200

    assert any("camera.change" in a.text for a in answers)  # the audit was read back
    leaks = [(a.request.method, a.request.url.path) for a in answers if canary in a.text]
    assert leaks == []
    assert [r.getMessage() for r in caplog.records if canary in r.getMessage()] == []
    assert canary not in caplog.text


async def test_the_audit_log_drops_credentials_from_any_url_it_is_given(api: Api) -> None:
    canary = "canary" + secrets.token_hex(8)
    audit = api.parts.context.audit
    await audit.record(
        "test.url", "admin", target=f"rtsp://u:{canary}@192.0.2.1/a",
        url=f"rtsp://u:{canary}@192.0.2.1/b", nested={"urls": [f"rtsps://{canary}@h/c"]},
    )  # fmt: skip
    [entry] = await audit.query(action="test.url")
    assert canary not in json.dumps([entry.target, entry.detail])
    assert entry.detail["url"] == "rtsp://192.0.2.1/b"
    assert entry.detail["nested"] == {"urls": ["rtsps://h/c"]}


async def test_the_first_admin_password_goes_to_a_0600_file_and_never_to_a_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    password = api.admin_password
    path = api.config.data_dir / "secrets" / "first-admin-password"
    assert path.read_text().strip() == password
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    logged = [r.getMessage() for r in caplog.get_records("setup") + caplog.get_records("call")]
    assert any(str(path) in line for line in logged)  # the owner is told where it is
    assert not [line for line in logged if password in line]
    await api.login("admin", password)  # and it is the password that works
