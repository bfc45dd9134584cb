"""A site for remote media, real processes on loopback: simulated cameras -> the recorder ->
its tunnel -> `skycam relay` -> the Python reference device. Used by the tests and the bench."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from recorder.config import parse_config
from recorder.remote.viewer import RelayLinks
from recorder.tunnel.device import (
    DeviceClient,
    DeviceSession,
    cloud_login,
    cloud_signup,
    cloud_ticket_link,
)
from recorder.tunnel.invitations import InvitationLink
from sim import CameraSpec, SimCluster
from sim.formats import StreamFormat
from tests.cloud.relay_host import RelayProcess
from tests.e2e.harness import camera_entry
from tests.recorder_thread import RecorderThread

PASSWORD = "correct horse battery"
CANARY = "canary" + secrets.token_hex(5)  # a camera whose id must never reach the relay
SLOW_GOP = "slowgop"  # a camera with a 4 s GOP


@dataclass
class Phone:
    device: DeviceClient
    session: DeviceSession
    links: RelayLinks
    account: str
    token: str

    async def close(self) -> None:
        await self.links.close()
        await self.device.close()


@dataclass
class Site:
    recorder: RecorderThread
    relay: RelayProcess
    admin: dict[str, str]
    plaintexts: list[bytes] = field(default_factory=list)  # what devices decrypted

    def lan(self) -> httpx.Client:
        return httpx.Client(base_url=self.recorder.http_url, headers=self.admin, timeout=30)

    def connected(self) -> bool:
        with self.lan() as lan:
            return bool(lan.get("/api/v1/relay").json()["connected"])

    async def until(self, fact: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not fact():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.2)

    async def invitation(self, username: str) -> str:
        with self.lan() as lan:
            made = lan.post("/api/v1/relay/invitations", json={"username": username})
            assert made.status_code == 201, made.text
            link: str = made.json()["link"]

            def registered() -> bool:
                listed = lan.get("/api/v1/relay/invitations").json()
                return any(i["id"] == made.json()["id"] and i["registered"] for i in listed)

            await self.until(registered, 30, "the invitation registered with the relay")
        return link

    async def phone(self, email: str, username: str = "admin") -> Phone:
        """A device: an invitation for `username`, a cloud account made with it, enrolment."""
        link = await self.invitation(username)
        await cloud_signup(self.relay.rest, email, PASSWORD, InvitationLink.parse(link).invitation)
        token, account = await cloud_login(self.relay.rest, email, PASSWORD)
        ws = await cloud_ticket_link(self.relay.rest, token, ws_url=self.relay.ws)
        device = DeviceClient(ws, account)
        session, _ = await device.enroll(link, timeout_s=30)
        return Phone(device, session, RelayLinks(self.relay.rest, token), account, token)

    async def another_device(self, email: str, username: str = "admin") -> Phone:
        """A second device of an existing cloud account (the owner's tablet), enrolled with
        an invitation of its own."""
        link = await self.invitation(username)
        token, account = await cloud_login(self.relay.rest, email, PASSWORD)
        ws = await cloud_ticket_link(self.relay.rest, token, ws_url=self.relay.ws)
        device = DeviceClient(ws, account)
        session, _ = await device.enroll(link, timeout_s=30)
        return Phone(device, session, RelayLinks(self.relay.rest, token), account, token)


def slow_gop_spec() -> CameraSpec:
    return CameraSpec(
        SLOW_GOP,
        "motion",
        main=StreamFormat(1280, 720, 15, 2000, gop_s=4),
        sub=StreamFormat(640, 360, 15, 500, gop_s=4),
    )


@contextmanager
def remote_site(
    relay_dir: Path, site_dir: Path, *, ahead_s: float = 60, lease_s: float = 20
) -> Iterator[Site]:
    relay = RelayProcess(relay_dir, verbose=False).start()
    specs = [CameraSpec(CANARY, "motion"), slow_gop_spec()]
    try:
        with SimCluster(specs) as cluster:
            config = parse_config(
                {
                    "data_dir": str(site_dir),
                    "cameras": [camera_entry(s.name, cluster.cameras[s.name]) for s in specs],
                    "api": {"http_port": 0, "https": False},
                    "storage": {"segment_seconds": 2},
                    "relay": {
                        "url": relay.rest, "ws_url": relay.ws, "backoff_cap_s": 1,
                        "invitation_sync_s": 1, "media_ahead_s": ahead_s,
                        "media_lease_s": lease_s,
                    },
                }
            )  # fmt: skip
            with RecorderThread(config) as recorder:
                yield Site(recorder, relay, recorder.admin_headers())
    finally:
        relay.stop()
