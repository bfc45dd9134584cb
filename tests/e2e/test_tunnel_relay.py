"""Remote access end to end, real processes on loopback: simulated cameras -> the recorder ->
its tunnel -> `skycam relay` (the local relay host) -> the Python reference device.

The relay's connection cap is shortened to seconds, so the tunnel rolls over all through these
tests; the relay is killed and restarted and the recorder comes back by itself.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from recorder.config import parse_config
from recorder.tunnel.device import DeviceClient, DeviceSession, cloud_link, cloud_signup
from recorder.tunnel.errors import RelayRefused
from recorder.tunnel.invitations import InvitationLink
from sim import CameraSpec, Fault, SimCluster
from tests.cloud.relay_host import RelayProcess
from tests.e2e.harness import camera_entry
from tests.recorder_thread import RecorderThread

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
RELAY_CAP_S = 12  # the relay closes any connection after this (a device's too)
RECORDER_CAP_S = 4  # the recorder rolls over before it


@dataclass
class Site:
    recorder: RecorderThread
    relay: RelayProcess
    admin: dict[str, str]

    def lan(self) -> httpx.Client:
        return httpx.Client(base_url=self.recorder.http_url, headers=self.admin, timeout=10)

    def status(self) -> dict[str, Any]:
        with self.lan() as lan:
            body: dict[str, Any] = lan.get("/api/v1/relay").json()
            return body


async def until(fact: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not fact():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    relay = RelayProcess(tmp_path_factory.mktemp("relay"), max_s=RELAY_CAP_S, verbose=False).start()
    specs = [CameraSpec("front", "motion"), CameraSpec("flaky", "idle", fault=Fault.drop(8))]
    try:
        with SimCluster(specs) as cluster:
            config = parse_config(
                {
                    "data_dir": str(tmp_path_factory.mktemp("site")),
                    "cameras": [camera_entry(s.name, cluster.cameras[s.name]) for s in specs],
                    "api": {"http_port": 0, "https": False},
                    "relay": {
                        "url": relay.rest, "ws_url": relay.ws, "backoff_cap_s": 1,
                        # The old connection is read 3 s after a rollover (10 s by default):
                        # at 1 s, a call the relay routed to it just before the switch failed
                        # when its answer took longer than that on a busy machine.
                        "connection_max_s": RECORDER_CAP_S, "rollover_drain_s": 3,
                        "invitation_sync_s": 1,
                    },
                }
            )  # fmt: skip
            with RecorderThread(config) as recorder:
                yield Site(recorder, relay, recorder.admin_headers())
    finally:
        relay.stop()


async def enrol(site: Site, email: str) -> tuple[DeviceClient, DeviceSession, str]:
    """A phone: an invitation from the recorder, a cloud account made with it, enrolment."""
    with site.lan() as lan:
        made = lan.post("/api/v1/relay/invitations", json={"username": "admin"})
        assert made.status_code == 201, made.text
        link = made.json()["link"]
        assert link.startswith(site.relay.rest + "/#/join?")

        def registered() -> bool:
            listed = lan.get("/api/v1/relay/invitations").json()
            return any(i["id"] == made.json()["id"] and i["registered"] for i in listed)

        await until(registered, 30, "the invitation registered with the relay")
    invitation = InvitationLink.parse(link)
    await cloud_signup(site.relay.rest, email, PASSWORD, invitation.invitation)
    device = await connect(site, email)
    session, _info = await device.enroll(link, timeout_s=30)
    return device, session, link


async def connect(site: Site, email: str) -> DeviceClient:
    link, account = await cloud_link(site.relay.rest, email, PASSWORD, ws_url=site.relay.ws)
    return DeviceClient(link, account)


async def test_a_remote_phone_uses_the_recorder_through_the_relay(site: Site) -> None:
    await until(lambda: site.status()["connected"], 30, "the tunnel connected")
    device, session, _ = await enrol(site, "owner@example.test")
    cameras = await session.call("GET", "/api/v1/cameras")
    assert cameras.status == 200 and {c["id"] for c in cameras.json()} == {"front", "flaky"}

    deadline = time.monotonic() + 60
    while (snap := await session.call("GET", "/api/v1/cameras/front/snapshot.jpg")).status != 200:
        assert time.monotonic() < deadline, snap.body
        await asyncio.sleep(0.5)
    assert snap.body[:2] == b"\xff\xd8" and snap.header("content-type") == "image/jpeg"

    now = int(time.time() * 1000)
    timeline = await session.call(
        "GET", "/api/v1/cameras/front/timeline", query=f"start={now - 600_000}&end={now + 60_000}"
    )
    assert timeline.status == 200 and "runs" in timeline.json()

    await session.subscribe()
    notice = await asyncio.wait_for(session.notices.get(), 60)  # the flaky camera drops
    assert notice["type"] in ("camera.status", "storage.alert", "event.start", "event.update")
    await device.close()


async def test_a_wrong_key_is_refused_and_a_revoked_device_cannot_come_back(site: Site) -> None:
    device, session, link = await enrol(site, "guest@example.test")
    invitation = InvitationLink.parse(link)
    # A new key on the granted account: the recorder does not answer its handshake.
    stranger = await connect(site, "guest@example.test")
    with pytest.raises(RelayRefused, match="unknown_device"):
        await stranger.open(invitation.rid, invitation.recorder_static, timeout_s=30)
    await stranger.close()
    with site.lan() as lan:
        ours = [
            d for d in lan.get("/api/v1/relay/devices").json() if d["account"] == device.account
        ]
        assert len(ours) == 1
        assert lan.delete(f"/api/v1/relay/devices/{ours[0]['id']}").status_code == 200
    await asyncio.wait_for(session.closed.wait(), 30)
    assert session.close_reason == "revoked"
    again = await connect(site, "guest@example.test")
    again.static_private = device.static_private  # the revoked key, on its own account
    with pytest.raises(RelayRefused, match="no_grant"):
        await again.open(invitation.rid, invitation.recorder_static, timeout_s=30)
    await again.close()
    await device.close()


async def test_the_tunnel_rolls_over_under_load_with_no_failed_call(site: Site) -> None:
    device, session, _ = await enrol(site, "load@example.test")
    before = site.status()["rollovers"]
    calls = failures = 0
    while site.status()["rollovers"] < before + 2:
        answers = await asyncio.gather(
            *(session.call("GET", "/api/v1/cameras", timeout_s=30) for _ in range(4)),
            return_exceptions=True,
        )
        calls += len(answers)
        failures += sum(1 for a in answers if isinstance(a, BaseException) or a.status != 200)
    assert failures == 0 and calls >= 8
    await device.close()


async def test_the_recorder_is_back_by_itself_after_the_relay_restarts(site: Site) -> None:
    await until(lambda: site.status()["connected"], 30, "connected")
    ports = site.relay.ports
    site.relay.stop(signal.SIGKILL)  # killed: no goodbye to anyone
    await until(lambda: not site.status()["connected"], 30, "the recorder noticed")
    site.relay.ports = ports  # the same ports, as a restarted service would have
    site.relay.start()
    back_at = time.monotonic()
    await until(lambda: site.status()["connected"], 30, "reconnected")
    assert time.monotonic() - back_at < 10
    device, session, _ = await enrol(site, "after@example.test")
    assert (await session.call("GET", "/api/v1/cameras")).status == 200
    await device.close()
