"""The recorder serves the PWA's build at / (public), while /api/v1 stays authenticated."""

from __future__ import annotations

from pathlib import Path

import httpx

from recorder.api.app import create_app
from tests.api.conftest import Api


async def test_pwa_build_is_served_at_the_root(api: Api, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>SkyCam</title>")
    app = create_app(api.parts.context, web_dir=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://recorder") as client:
        page = await client.get("/")
        assert page.status_code == 200 and "<title>SkyCam</title>" in page.text
        assert (await client.get("/api/v1/cameras")).status_code == 401


async def test_views_reload_to_the_app_and_the_shell_is_not_cached(
    api: Api, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>SkyCam</title>")
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    app = create_app(api.parts.context, web_dir=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://recorder") as client:
        root = await client.get("/")  # the shell itself: a new build must reach users at once
        assert root.status_code == 200 and root.headers["cache-control"] == "no-cache"
        view = await client.get("/camera/cam1")  # a reload on a view of the app
        assert view.status_code == 200 and "<title>SkyCam</title>" in view.text
        assert view.headers["cache-control"] == "no-cache"
        assert (await client.get("/sw.js")).headers["cache-control"] == "no-cache"
        asset = await client.get("/assets/index-abc123.js")
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get("/assets/missing.js")).status_code == 404
        assert (await client.get("/api/v1/nothing")).status_code == 404
