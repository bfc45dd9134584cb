"""The API server over a real socket: responses carry a current `Date`, and an idle server sleeps
until it is told to stop, then stops at once."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from recorder.api.server import ApiServer
from recorder.config import ApiConfig


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


async def test_responses_carry_the_current_date_and_shutdown_is_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = 0
    on_tick = uvicorn.Server.on_tick

    async def counted(self: uvicorn.Server, counter: int) -> bool:
        nonlocal ticks
        ticks += 1
        return await on_tick(self, counter)

    monkeypatch.setattr(uvicorn.Server, "on_tick", counted)
    server = ApiServer(_app(), ApiConfig(https=False, http_port=0), tmp_path)
    shutdown = asyncio.Event()
    task = asyncio.create_task(server.run(shutdown))
    await asyncio.wait_for(server.ready.wait(), 10)
    dates: list[float] = []
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as client:
        # The header is formatted once a second: ask until it has moved on (uvicorn's own
        # timer does that; the server's ticker must not be needed for it).
        while len(set(dates)) < 2:
            assert time.monotonic() < deadline, f"the Date header never changed: {dates}"
            response = await client.get("/hello")
            assert response.status_code == 200 and response.json() == {"hello": "world"}
            assert len(response.headers.get_list("date")) == 1
            date = parsedate_to_datetime(response.headers["date"]).timestamp()
            assert abs(date - time.time()) <= 1.5
            dates.append(date)
            await asyncio.sleep(0.1)
    assert dates[-1] > dates[0]
    assert ticks == 1  # once at start; over a second with no timer waking the server
    started = time.monotonic()
    shutdown.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 0.5  # not waiting for a tick
