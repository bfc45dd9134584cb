"""Property-based: requests generated from the OpenAPI schema never produce a 5xx."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from recorder.config import parse_config
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow
CAMERA_GATEWAY = {502}
CAMERA_CODES = {"camera_unreachable", "camera_auth"}


@pytest.fixture(scope="module")
def server(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecorderThread]:
    data_dir = tmp_path_factory.mktemp("schemathesis") / "site"
    shutil.copytree(recordings, data_dir)
    config = parse_config(
        {
            "data_dir": str(data_dir),
            # Nothing listens there: the cameras stay offline, which the API must handle too.
            "cameras": [{"id": c, "main_url": "rtsp://127.0.0.1:9/x"} for c in ("cam1", "cam2")],
            "api": {"http_port": 0, "https": False},
            # Probes and discovery stay on loopback (tests never reach other addresses).
            "onboarding": {"networks": ["127.0.0.0/8"], "multicast": False},
        }
    )
    with RecorderThread(config) as thread:
        yield thread


@pytest.fixture(scope="module")
def admin_headers(server: RecorderThread) -> dict[str, str]:
    response = httpx.post(
        f"{server.http_url}/api/v1/auth/login",
        json={"username": "admin", "password": server.admin_password},
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def api_schema(server: RecorderThread) -> Any:
    return schemathesis.openapi.from_url(f"{server.http_url}/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, admin_headers: dict[str, str]) -> None:
    if case.operation.path.endswith("/logout"):
        return  # it would end the session the other cases use
    for headers in (admin_headers, {}):
        response = case.call(headers=headers)
        if response.status_code in CAMERA_GATEWAY:
            # A designed answer, not a crash: the camera behind the request (PTZ, probe) is
            # unreachable; the body must say so.
            assert response.json()["error"]["code"] in CAMERA_CODES, response.text
            continue
        assert response.status_code < 500, (case.operation.path, response.text)
