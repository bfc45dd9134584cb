"""The local relay serves the PWA at / (so an invitation link opens the app) and
/.well-known/skycam-relay (the WebSocket endpoint and connection cap the app needs), with the
recorder's cache policy and headers that keep the page from being framed or sniffed; the REST
API is unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .relay_host import RelayProcess

SHELL = b"<!doctype html><title>SkyCam</title><div id=app></div>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RelayProcess, Path]]:
    web = tmp_path_factory.mktemp("dist")
    (web / "index.html").write_bytes(SHELL)
    (web / "assets").mkdir()
    (web / "assets" / "index-abc123.js").write_text("console.log('app')")
    (web / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    process = RelayProcess(tmp_path_factory.mktemp("relay"), max_s=900)
    process.options = (*process.options, "--web-dir", str(web))
    process.start()
    yield process, web
    process.stop()


@pytest.fixture
def http(served: tuple[RelayProcess, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].rest, timeout=30) as client:
        yield client


def test_the_shell_is_served_for_every_view_path_uncached(http: httpx.Client) -> None:
    for path in ("/", "/join", "/console", "/camera/cam1"):
        reply = http.get(path)
        assert reply.status_code == 200, path
        assert reply.content == SHELL
        assert reply.headers["cache-control"] == "no-cache"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["referrer-policy"] == "no-referrer"


def test_assets_are_immutable_and_a_missing_file_is_404(http: httpx.Client) -> None:
    reply = http.get("/assets/index-abc123.js")
    assert reply.status_code == 200
    assert "immutable" in reply.headers["cache-control"]
    assert http.get("/sw.js").headers["cache-control"] == "no-cache"
    assert http.get("/assets/gone-123.js").status_code == 404
    assert http.post("/join").status_code == 405


def test_the_relay_information_names_the_websocket_endpoint_and_cap(
    http: httpx.Client, served: tuple[RelayProcess, Path]
) -> None:
    reply = http.get("/.well-known/skycam-relay")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"websocket": served[0].ws, "max_connection_s": 900.0}


def test_the_rest_api_is_still_the_api(http: httpx.Client) -> None:
    assert http.get("/v1/me").status_code == 401
    login = {"email": "nobody@relay.local", "password": "p" * 12}
    assert http.post("/v1/auth/login", json=login).status_code == 401


def test_without_a_build_nothing_is_served_outside_the_api(tmp_path: Path) -> None:
    process = RelayProcess(tmp_path / "relay")
    process.options = (*process.options, "--web-dir", str(tmp_path / "no-build"))
    process.start()
    try:
        assert httpx.get(f"{process.rest}/.well-known/skycam-relay", timeout=30).status_code != 200
        assert not any("web app" in line for line in process.output)
    finally:
        process.stop()
