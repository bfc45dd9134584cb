"""The tunnel's figures for bench/relay.py: a recorder (no cameras: the call measured is the
relay's and the tunnel's cost, not capture's) reached by the reference device client through
`skycam relay`, beside the same call made directly on the LAN API.

- `brokered_rtt_ms` / `direct_rtt_ms` / `overhead_ms`: medians of `GET /api/v1/cameras`;
- `rollover_failed_calls`: calls that failed while the recorder rolled its relay connection
  over (the recorder's `connection_max_s` shortened to 4 s, under the relay's cap of 60 s, which
  the device's one connection outlives), with `rollovers` the number that happened meanwhile.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from recorder.config import parse_config
from recorder.tunnel.device import DeviceClient, cloud_link
from tests.recorder_thread import RecorderThread


async def tunnel_figures(
    data: Path, rest: str, ws: str, admin_password: str, calls: int, rollover_s: float
) -> dict[str, Any]:
    config = parse_config({
        "data_dir": str(data),
        "cameras": [],
        "api": {"http_port": 0, "https": False},
        "relay": {"url": rest, "ws_url": ws, "connection_max_s": 4, "rollover_drain_s": 1},
    })  # fmt: skip
    with RecorderThread(config) as thread:
        api = thread.recorder.api
        assert api is not None and api.first_password
        lan_url = f"http://127.0.0.1:{api.server.http_port}"
        async with httpx.AsyncClient(timeout=30) as http:
            login = await http.post(
                f"{lan_url}/api/v1/auth/login",
                json={"username": "admin", "password": api.first_password},
            )
            lan = {"Authorization": f"Bearer {login.json()['access_token']}"}
            deadline = time.monotonic() + 60
            while True:  # the recorder's tunnel is up and can register an invitation
                reply = await http.post(
                    f"{lan_url}/api/v1/relay/invitations", json={"username": "admin"}, headers=lan
                )
                if reply.status_code == 201:
                    link = reply.json()["link"]
                    break
                assert time.monotonic() < deadline, reply.text
                await asyncio.sleep(0.5)
            inv = parse_qs(urlsplit(link).fragment.split("?", 1)[1])["inv"][0]
            email, password = "bench@example.org", "correct horse battery"
            while (await http.post(f"{rest}/v1/accounts", json={
                "email": email, "password": password, "invitation": inv,
            })).status_code != 201:  # fmt: skip
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
            relay_link, account = await cloud_link(rest, email, password, ws_url=ws)
            device = DeviceClient(relay_link, account)
            session, _ = await device.enroll(link, timeout_s=30)
            brokered, direct = [], []
            for _ in range(calls):
                started = time.perf_counter()
                assert (await session.call("GET", "/api/v1/cameras")).status == 200
                brokered.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert (await http.get(f"{lan_url}/api/v1/cameras", headers=lan)).status_code == 200
                direct.append(time.perf_counter() - started)
            before = (await http.get(f"{lan_url}/api/v1/relay", headers=lan)).json()
            failed = done = 0
            errors: list[str] = []
            end = time.monotonic() + rollover_s
            while time.monotonic() < end:
                try:
                    answer = await session.call("GET", "/api/v1/cameras", timeout_s=10)
                    failed += answer.status != 200
                except Exception as exc:  # a failed call is what is counted
                    failed += 1
                    errors.append(f"{type(exc).__name__}: {exc}"[:120])
                done += 1
                await asyncio.sleep(0.05)
            after = (await http.get(f"{lan_url}/api/v1/relay", headers=lan)).json()
            await device.close()
    b, d = statistics.median(brokered) * 1000, statistics.median(direct) * 1000
    return {
        "brokered_rtt_ms": round(b, 2),
        "direct_rtt_ms": round(d, 2),
        "overhead_ms": round(b - d, 2),
        "rollover_calls": done,
        "rollover_failed_calls": failed,
        "rollovers": int(after.get("rollovers", 0)) - int(before.get("rollovers", 0)),
        "rollover_errors": sorted(set(errors))[:5],
        "session_close_reason": session.close_reason,
    }
