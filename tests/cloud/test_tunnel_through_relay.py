"""End to end through the real path: a simulated camera -> the recorder -> its tunnel client ->
`skycam relay` (a process) -> the Python reference device client, which signs up from an
invitation, enrolls, and calls the recorder's API. The relay carries it all without being able
to read it: canaries planted on the recorder never reach its logs or files."""

from __future__ import annotations

import asyncio
import secrets
import signal
import statistics
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from recorder.config import parse_config
from recorder.tunnel.device import DeviceClient, cloud_link
from recorder.tunnel.errors import RelayRefused, TunnelError
from sim import CameraSpec, SimCluster
from tests.e2e.harness import camera_entry
from tests.recorder_thread import RecorderThread

from .relay_host import RelayClient, RelayProcess

pytestmark = pytest.mark.slow

CAMERA = "canary" + secrets.token_hex(5)
PASSWORD = "CanaryPass" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def site(relay: RelayProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecorderThread]:
    data_dir = tmp_path_factory.mktemp("site")
    specs = [CameraSpec(CAMERA, "motion", user="admin", password=PASSWORD)]
    with SimCluster(specs) as cluster:
        config = parse_config(
            {
                "data_dir": str(data_dir),
                "cameras": [camera_entry(CAMERA, cluster.cameras[CAMERA])],
                "api": {"http_port": 0, "https": False},
                "relay": {"url": relay.rest, "ws_url": relay.ws},
            }
        )
        with RecorderThread(config) as thread:
            yield thread


def wait_for(check, within: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def lan_token(site: RecorderThread) -> str:
    login = httpx.post(
        f"{site.http_url}/api/v1/auth/login",
        json={"username": "admin", "password": site.admin_password},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def invite(site: RecorderThread, token: str) -> str:
    reply = httpx.post(
        f"{site.http_url}/api/v1/relay/invitations",
        json={"username": "admin"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["link"])


def invitation_id(link: str) -> str:
    return parse_qs(urlsplit(link).fragment.split("?", 1)[1])["inv"][0]


async def test_device_enrolls_and_calls_the_recorder_through_the_relay(
    relay: RelayProcess, site: RecorderThread
) -> None:
    api = RelayClient(relay)
    admin = api.admin_token()
    wait_for(
        lambda: any(
            r["online"] for r in api.get("/v1/console/recorders", admin).json()["recorders"]
        )
    )
    token = lan_token(site)
    link = invite(site, token)
    inv = invitation_id(link)
    # The recorder registers the invitation id with the relay; the secret stays in the fragment.
    email, password = "owner@example.org", "correct horse battery"
    wait_for(
        lambda: (
            api.post(
                "/v1/accounts", {"email": email, "password": password, "invitation": inv}
            ).status_code
            == 201
        )
    )
    relay_link, account = await cloud_link(relay.rest, email, password, ws_url=relay.ws)
    device = DeviceClient(relay_link, account)
    try:
        session, enrolled = await device.enroll(link, timeout_s=30)
        assert enrolled["user"] == "admin"
        cameras = await session.call("GET", "/api/v1/cameras")
        assert cameras.status == 200
        assert CAMERA in cameras.body.decode()

        # The same small call, brokered and direct.
        brokered, direct = [], []
        async with httpx.AsyncClient(base_url=site.http_url, timeout=30) as lan:
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(15):
                started = time.perf_counter()
                assert (await session.call("GET", "/api/v1/cameras")).status == 200
                brokered.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert (await lan.get("/api/v1/cameras", headers=headers)).status_code == 200
                direct.append(time.perf_counter() - started)
        overhead_ms = (statistics.median(brokered) - statistics.median(direct)) * 1000
        print(
            f"brokered {statistics.median(brokered) * 1000:.1f} ms, "
            f"direct {statistics.median(direct) * 1000:.1f} ms, overhead {overhead_ms:.1f} ms"
        )

        # A snapshot is larger than one message: it travels in parts.
        deadline = time.monotonic() + 60
        while True:
            snap = await session.call("GET", f"/api/v1/cameras/{CAMERA}/snapshot.jpg")
            if snap.status == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert snap.status == 200 and snap.body[:2] == b"\xff\xd8"

        # Revoking the grant on the relay ends the session at once.
        me = api.get(
            "/v1/me",
            str(
                api.post("/v1/auth/login", {"email": email, "password": password}).json()[
                    "access_token"
                ]
            ),
        )
        rid = me.json()["recorders"][0]
        reply = api.http.delete(
            f"/v1/console/grants/{rid}/{account}", headers={"Authorization": f"Bearer {admin}"}
        )
        assert reply.json()["sessions_closed"] >= 1
        await asyncio.wait_for(session.closed.wait(), 10)
        assert session.close_reason == "revoked"
        with pytest.raises((RelayRefused, TunnelError, TimeoutError)):
            await device.open(rid, enrolled_static(link), timeout_s=5)
    finally:
        await device.close()
        api.close()

    # Privacy canary: the camera's name and password and the API bodies crossed the relay;
    # none of it is in what the relay logged or stored.
    logs = relay.logs()
    stored = b"".join(p.read_bytes() for p in relay.data_dir.rglob("*") if p.is_file())
    for canary in (CAMERA, PASSWORD):
        assert canary not in logs
        assert canary.encode() not in stored


def enrolled_static(link: str) -> bytes:
    from recorder.tunnel.invitations import InvitationLink

    return InvitationLink.parse(link).recorder_static


async def test_rollovers_lose_no_call_and_the_recorder_returns_after_a_relay_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    relay = RelayProcess(tmp_path_factory.mktemp("relay2"), idle_s=120, max_s=120).start()
    config = parse_config(
        {
            "data_dir": str(tmp_path_factory.mktemp("site2")),
            "cameras": [],
            "api": {"http_port": 0, "https": False},
            "relay": {
                "url": relay.rest,
                "ws_url": relay.ws,
                "connection_max_s": 3,
                "rollover_drain_s": 0.5,
                "backoff_cap_s": 1,
            },
        }
    )
    api = RelayClient(relay)
    try:
        with RecorderThread(config) as site:
            token = lan_token(site)
            link = invite(site, token)
            email, password = "roll@example.org", "correct horse battery"
            body = {"email": email, "password": password, "invitation": invitation_id(link)}
            wait_for(lambda: api.post("/v1/accounts", body).status_code == 201)
            relay_link, account = await cloud_link(relay.rest, email, password, ws_url=relay.ws)
            device = DeviceClient(relay_link, account)
            try:
                session, _ = await device.enroll(link, timeout_s=30)
                status = lambda: httpx.get(  # noqa: E731
                    f"{site.http_url}/api/v1/relay",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                ).json()
                rollovers_before = status()["rollovers"]
                failures, calls = 0, 0
                end = time.monotonic() + 8
                while time.monotonic() < end:
                    reply = await session.call("GET", "/api/v1/cameras", timeout_s=10)
                    failures += reply.status != 200
                    calls += 1
                    await asyncio.sleep(0.05)
                assert status()["rollovers"] - rollovers_before >= 2
                assert calls > 20 and failures == 0
            finally:
                await device.close()

            # Kill the relay (no goodbye) and bring it back on the same ports: the recorder
            # dials again by itself.
            admin_password = relay.admin_password
            relay.stop(signal.SIGKILL)
            relay = RelayProcess(relay.data_dir, idle_s=120, max_s=120, ports=relay.ports).start()
            relay.admin_password = admin_password
            back = time.monotonic()
            api.close()
            api = RelayClient(relay)
            admin = api.admin_token()
            wait_for(
                lambda: any(
                    r["online"] for r in api.get("/v1/console/recorders", admin).json()["recorders"]
                ),
                within=30,
            )
            print(f"recorder back {time.monotonic() - back:.2f} s after the relay")
    finally:
        api.close()
        relay.stop()
