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
