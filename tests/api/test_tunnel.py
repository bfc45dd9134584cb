"""The tunnel end to end in process: a real recorder app and SQLite, the tunnel client dialling
the in-memory relay (which routes like the real one), and the reference device client.

Enrolment by invitation, calls and their per-camera rights, notices, refused keys, revocation,
single use and expiry of invitations, refused sealed messages, the relay going away, rollover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from recorder.accounts.model import Right, Role
from recorder.api.routes.cameras import visible
from recorder.clock import Clock, SystemClock
from recorder.config import RelayConfig
from recorder.errors import NotAuthenticated
from recorder.tunnel.device import DeviceClient, DeviceSession
from recorder.tunnel.errors import EnrollmentFailed, RelayRefused, TunnelError
from recorder.tunnel.invitations import InvitationLink
from recorder.tunnel.memory_relay import MemoryRecorderDialer, MemoryRelay
from recorder.tunnel.service import TunnelService
from tests.api.conftest import THUMBNAIL, Api

RELAY_URL = "https://relay.test"


async def until(fact: Callable[[], bool], timeout_s: float = 15, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not fact():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or fact}")
        await asyncio.sleep(0.01)


@dataclass
class Remote:
    api: Api
    relay: MemoryRelay
    service: TunnelService
    admin: dict[str, str]

    async def invite(self, username: str) -> str:
        response = await self.api.client.post(
            "/api/v1/relay/invitations", json={"username": username}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        body = response.json()
        invitation = body["id"]
        await until(lambda: invitation in self.relay.invitations, what="invite registered")
        return str(body["link"])

    def device(self, account: str, key: bytes | None = None) -> DeviceClient:
        return DeviceClient(self.relay.connect_device(account), account, key)

    async def enrolled(self, username: str, account: str) -> tuple[DeviceClient, DeviceSession]:
        device = self.device(account)
        session, _info = await device.enroll(await self.invite(username))
        return device, session


@contextlib.asynccontextmanager
async def running(api: Api, clock: Clock | None = None, **relay: float) -> AsyncIterator[Remote]:
    ctx = api.parts.context
    memory = MemoryRelay()
    config = RelayConfig(url=RELAY_URL, backoff_cap_s=0.2, invitation_sync_s=1, **relay)
    service = TunnelService(
        config, api.config.data_dir / "secrets", ctx, api.parts.server.app, api.parts.site,
        MemoryRecorderDialer(memory), clock,
    )  # fmt: skip
    ctx.tunnel = service
    shutdown = asyncio.Event()
    task = asyncio.create_task(service.run(shutdown))
    try:
        assert service.client is not None
        await asyncio.wait_for(service.client.connected.wait(), 15)
        yield Remote(api, memory, service, await api.headers())
    finally:
        shutdown.set()
        await task
        await service.close()


@pytest.fixture
async def remote(api: Api) -> AsyncIterator[Remote]:
    async with running(api) as remote:
        yield remote


async def test_an_invited_device_enrolls_and_uses_the_api(remote: Remote) -> None:
    device = remote.device("acct-owner")
    session, info = await device.enroll(await remote.invite("admin"))
    assert info["user"] == "admin" and info["rid"] == remote.service.identity.rid
    assert ("acct-owner", remote.service.identity.rid) in remote.relay.grants

    cameras = await session.call("GET", "/api/v1/cameras")
    assert cameras.status == 200
    assert [c["id"] for c in cameras.json()] == ["cam1", "cam2"]

    lan = await remote.api.client.get(
        "/api/v1/cameras/cam1/snapshot.jpg", params={"width": 160}, headers=remote.admin
    )
    snapshot = await session.call("GET", "/api/v1/cameras/cam1/snapshot.jpg", query="width=160")
    assert snapshot.status == 200 and snapshot.header("content-type") == "image/jpeg"
    assert snapshot.body[:2] == b"\xff\xd8" and len(snapshot.body) == len(lan.content)

    segments = await remote.api.segments("cam1")
    query = f"start={segments[0].start_ms - 60_000}&end={segments[-1].end_ms + 60_000}"
    timeline = await session.call("GET", "/api/v1/cameras/cam1/timeline", query=query)
    assert timeline.status == 200, timeline.body
    assert len(timeline.json()["runs"]) == 2

    # A body many frames long (a whole segment file) arrives byte for byte.
    path = f"/api/v1/cameras/cam1/segments/{segments[0].id}.mp4"
    direct = await remote.api.client.get(path, headers=remote.admin)
    tunnelled = await session.call("GET", path)
    assert tunnelled.status == 200 and len(direct.content) > 100_000
    assert tunnelled.body == direct.content

    event = remote.api.events[1]  # cam1's event with a thumbnail
    thumbnail = await session.call("GET", f"/api/v1/events/{event.id}/thumbnail.jpg")
    assert thumbnail.status == 200 and thumbnail.body == THUMBNAIL

    # A write through the tunnel: the audit log names the device's user, from "tunnel".
    created = await session.call(
        "POST",
        "/api/v1/users",
        json_body={"username": "remote-made", "password": "a-Long-pw-42!", "role": "viewer"},
    )
    assert created.status == 201, created.body
    devices = (await remote.api.client.get("/api/v1/relay/devices", headers=remote.admin)).json()
    assert [(d["username"], d["account"]) for d in devices] == [("admin", "acct-owner")]
    assert devices[0]["last_seen_ms"] is not None
    await device.close()


async def test_a_viewer_gets_the_recorders_403_through_the_tunnel(remote: Remote) -> None:
    await remote.api.add_user("guest", Role.VIEWER, {"cam2": {Right.LIVE, Right.PLAYBACK}})
    device, session = await remote.enrolled("guest", "acct-guest")
    cameras = await session.call("GET", "/api/v1/cameras")
    assert [c["id"] for c in cameras.json()] == ["cam2"]
    refused = await session.call("GET", "/api/v1/cameras/cam1/snapshot.jpg")
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (await session.call("GET", "/api/v1/users")).status == 403  # admin only
    assert (await session.call("GET", "/api/v1/cameras/cam2/status")).status == 200
    await device.close()


async def test_notices_reach_only_the_devices_allowed_to_see_them(remote: Remote) -> None:
    await remote.api.add_user("guest", Role.VIEWER, {"cam2": {Right.LIVE}})
    owner_device, owner = await remote.enrolled("admin", "acct-owner")
    guest_device, guest = await remote.enrolled("guest", "acct-guest")
    await owner.subscribe()
    await guest.subscribe()
    await until(lambda: len(remote.api.parts.context.hub._subscribers) == 2, what="subscribed")
    hub = remote.api.parts.context.hub
    for camera in ("cam1", "cam2"):
        hub.publish(
            {"type": "camera.status", "camera_id": camera}, lambda p, c=camera: visible(p, c)
        )
    first = await asyncio.wait_for(owner.notices.get(), 10)
    second = await asyncio.wait_for(owner.notices.get(), 10)
    assert [first["camera_id"], second["camera_id"]] == ["cam1", "cam2"]
    only = await asyncio.wait_for(guest.notices.get(), 10)
    assert only["camera_id"] == "cam2"
    assert guest.notices.empty()
    await owner_device.close()
    await guest_device.close()


async def test_a_wrong_device_key_cannot_connect(remote: Remote) -> None:
    device, session = await remote.enrolled("admin", "acct-owner")
    rid, key = remote.service.identity.rid, remote.service.identity.static_public
    # The same (granted) account with another key: the recorder does not answer the handshake.
    stranger = remote.device("acct-owner")
    with pytest.raises(RelayRefused, match="unknown_device"):
        await stranger.open(rid, key)
    # The enrolled key presented by another account (granted by a compromised relay).
    remote.relay.grants.add(("acct-thief", rid))
    thief = remote.device("acct-thief", device.static_private)
    with pytest.raises(RelayRefused, match="unknown_device"):
        await thief.open(rid, key)
    # The right key and account still work.
    assert (await session.call("GET", "/api/v1/cameras")).status == 200
    await device.close()


async def test_a_revoked_device_is_cut_off_and_cannot_come_back(remote: Remote) -> None:
    device, session = await remote.enrolled("admin", "acct-owner")
    rid, key = remote.service.identity.rid, remote.service.identity.static_public
    devices = (await remote.api.client.get("/api/v1/relay/devices", headers=remote.admin)).json()
    revoked = await remote.api.client.delete(
        f"/api/v1/relay/devices/{devices[0]['id']}", headers=remote.admin
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_ms"] is not None
    await asyncio.wait_for(session.closed.wait(), 10)
    assert session.close_reason == "revoked"
    assert ("acct-owner", rid) not in remote.relay.grants  # the last device: grant revoked
    with pytest.raises(RelayRefused, match="no_grant"):
        await device.open(rid, key)
    remote.relay.grants.add(("acct-owner", rid))  # even if the relay let it through
    with pytest.raises(RelayRefused, match="unknown_device"):
        await device.open(rid, key)
    # Nor can the revoked key enrol again with a new invitation.
    link = await remote.invite("admin")
    again = DeviceClient(
        remote.relay.connect_device("acct-owner"), "acct-owner", device.static_private
    )
    with pytest.raises((EnrollmentFailed, RelayRefused)):
        await again.enroll(link)


async def test_disabling_the_user_ends_its_devices_access_at_once(remote: Remote) -> None:
    await remote.api.add_user("guest", Role.VIEWER, {"cam2": {Right.LIVE}})
    device, session = await remote.enrolled("guest", "acct-guest")
    user = await remote.api.parts.context.accounts.find("guest")
    assert user is not None
    changed = await remote.api.client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=remote.admin
    )
    assert changed.status_code == 200
    with pytest.raises(RelayRefused):
        await session.call("GET", "/api/v1/cameras")
    assert session.close_reason == "revoked"
    await device.close()


async def test_an_invitation_is_single_use(remote: Remote) -> None:
    link = await remote.invite("admin")
    first = remote.device("acct-one")
    await first.enroll(link)
    invitation = InvitationLink.parse(link).invitation
    await until(lambda: invitation not in remote.relay.invitations, what="invite_used")
    second = remote.device("acct-two")
    with pytest.raises(RelayRefused, match="no_grant"):
        await second.enroll(link)  # the relay no longer knows it
    remote.relay.invitations[invitation] = (remote.service.identity.rid, 2**40)
    with pytest.raises(EnrollmentFailed, match="used"):
        await second.enroll(link)  # the recorder refuses it even if the relay lets it through
    listed = (await remote.api.client.get("/api/v1/relay/invitations", headers=remote.admin)).json()
    assert [(i["id"], i["state"], i["link"]) for i in listed] == [(invitation, "used", None)]


async def test_an_invitation_expires_and_a_wrong_secret_is_refused(remote: Remote) -> None:
    link = await remote.invite("admin")
    parsed = InvitationLink.parse(link)
    forged = InvitationLink(
        parsed.relay_url, parsed.rid, parsed.recorder_static, parsed.invitation, b"x" * 32
    ).url()
    with pytest.raises(EnrollmentFailed, match="not proven"):
        await remote.device("acct-guess").enroll(forged)
    remote.api.clock.advance(24 * 3600 + 1)
    with pytest.raises(EnrollmentFailed, match="expired"):
        await remote.device("acct-late").enroll(link)
    assert await remote.service.devices.all() == []


async def test_an_invitation_secret_never_reaches_the_relay(remote: Remote) -> None:
    link = await remote.invite("admin")
    device = remote.device("acct-owner")
    session, _ = await device.enroll(link)
    await session.call("GET", "/api/v1/cameras")
    secret = link.split("s=")[1]
    routed = repr(remote.relay.log)
    assert secret not in routed and "cam1" not in routed and "admin" not in routed
    await device.close()


async def test_forged_and_replayed_messages_are_refused_and_the_session_goes_on(
    remote: Remote, caplog: pytest.LogCaptureFixture
) -> None:
    device, session = await remote.enrolled("admin", "acct-owner")
    caplog.set_level(logging.WARNING)
    recorded: list[dict[str, object]] = []
    original = device.link.send

    async def keep(message: dict[str, object]) -> None:
        recorded.append(message)
        await original(message)

    device.link.send = keep  # type: ignore[method-assign]
    assert (await session.call("GET", "/api/v1/cameras")).status == 200
    replay = next(m for m in recorded if m["t"] == "data")
    await device.link.send(replay)  # the same message again
    await device.link.send({**replay, "seq": 7, "ct": "AAAA" * 8})  # forged
    await until(lambda: remote.service.broker.refused == 2, what="two refusals")
    assert "replayed" in caplog.text and "failed authentication" in caplog.text
    assert (await session.call("GET", "/api/v1/cameras")).status == 200
    await device.close()


async def test_the_tunnel_comes_back_by_itself_when_the_relay_returns(remote: Remote) -> None:
    client = remote.service.client
    assert client is not None
    remote.relay.stop()
    await until(lambda: not client.status.connected, what="disconnected")
    status = (await remote.api.client.get("/api/v1/relay", headers=remote.admin)).json()
    assert status["connected"] is False and "relay" in status["last_error"]
    assert status["rid"] == remote.service.identity.rid
    remote.relay.start()
    await until(lambda: client.status.connected, timeout_s=10, what="reconnected")
    device, session = await remote.enrolled("admin", "acct-owner")
    assert (await session.call("GET", "/api/v1/cameras")).status == 200
    await device.close()


async def test_a_rollover_under_load_loses_no_call(api: Api) -> None:
    async with running(api, SystemClock(), connection_max_s=2, rollover_drain_s=1) as remote:
        device, session = await remote.enrolled("admin", "acct-owner")
        client = remote.service.client
        assert client is not None
        failures, calls = 0, 0
        while client.status.rollovers < 2:
            answers = await asyncio.gather(
                *(session.call("GET", "/api/v1/cameras") for _ in range(4)),
                return_exceptions=True,
            )
            calls += len(answers)
            failures += sum(1 for a in answers if isinstance(a, BaseException) or a.status != 200)
        assert calls > 20 and failures == 0
        assert remote.relay.connected(remote.service.identity.rid) >= 1
        await device.close()


async def test_the_lan_api_refuses_non_admins_and_bad_input(remote: Remote) -> None:
    viewer = await remote.api.add_user("guest", Role.VIEWER)
    for method, path in (
        ("GET", "/api/v1/relay"), ("GET", "/api/v1/relay/devices"),
        ("POST", "/api/v1/relay/invitations"), ("GET", "/api/v1/relay/invitations"),
    ):  # fmt: skip
        response = await remote.api.client.request(
            method, path, headers=viewer, json={"username": "guest"}
        )
        assert response.status_code == 403, path
    unknown = await remote.api.client.post(
        "/api/v1/relay/invitations", json={"username": "nobody"}, headers=remote.admin
    )
    assert unknown.status_code == 404
    extra = await remote.api.client.post(
        "/api/v1/relay/invitations", json={"username": "admin", "x": 1}, headers=remote.admin
    )
    assert extra.status_code == 422
    assert (
        await remote.api.client.delete("/api/v1/relay/devices/99", headers=remote.admin)
    ).status_code == 404
    status = (await remote.api.client.get("/api/v1/relay", headers=remote.admin)).json()
    assert status["connected"] is True and status["url"] == RELAY_URL
    assert "private" not in repr(status).lower()


async def test_notices_narrow_at_once_when_rights_are_removed(remote: Remote) -> None:
    await remote.api.add_user("guest", Role.VIEWER, {"cam1": {Right.LIVE}, "cam2": {Right.LIVE}})
    device, session = await remote.enrolled("guest", "acct-guest")
    await session.subscribe()
    hub = remote.api.parts.context.hub
    await until(lambda: len(hub._subscribers) == 1, what="subscribed")
    user = await remote.api.parts.context.accounts.find("guest")
    assert user is not None
    await remote.api.parts.context.accounts.set_rights(user.id, "cam1", frozenset())
    for camera in ("cam1", "cam2"):  # the hub still filters with the rights of subscribe time
        hub.publish({"type": "camera.status", "camera_id": camera})
    only = await asyncio.wait_for(session.notices.get(), 10)
    assert only["camera_id"] == "cam2"
    assert session.notices.empty()
    await device.close()


class ChangeSignal:
    """Stands in for the recorder's access-change signal (recorder/accounts/revocation.py)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[object], None]] = []

    def subscribe(self, listener: Callable[[object], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


@dataclass(frozen=True)
class UserChanged:
    user_id: int

    def concerns(self, user_id: int, session_id: str) -> bool:
        return user_id == self.user_id


async def test_an_access_change_closes_an_idle_session_at_once(remote: Remote) -> None:
    await remote.api.add_user("guest", Role.VIEWER, {"cam2": {Right.LIVE}})
    device, session = await remote.enrolled("guest", "acct-guest")
    signal = ChangeSignal()
    remote.service.broker.watch(signal)
    user = await remote.api.parts.context.accounts.find("guest")
    assert user is not None
    await remote.api.parts.context.accounts.delete(user.id)  # devices go with the user
    for listener in signal.listeners:
        listener(UserChanged(user.id))
    await asyncio.wait_for(session.closed.wait(), 10)  # no call needed to notice
    assert session.close_reason == "revoked"
    await until(lambda: ("acct-guest", remote.service.identity.rid) not in remote.relay.grants)
    await device.close()


async def test_ending_the_users_login_sessions_ends_the_tunnel_session(remote: Remote) -> None:
    device, session = await remote.enrolled("admin", "acct-owner")
    ctx = remote.api.parts.context
    await ctx.tokens.end_sessions_of((await ctx.accounts.find("admin")).id)  # type: ignore[union-attr]
    answer = await session.call("GET", "/api/v1/cameras")
    assert answer.status == 401
    await asyncio.wait_for(session.closed.wait(), 10)
    assert session.close_reason == "revoked"
    rid, key = remote.service.identity.rid, remote.service.identity.static_public
    fresh = await device.open(rid, key)  # still enrolled: a new session logs in again
    assert (await fresh.call("GET", "/api/v1/cameras")).status == 200
    await device.close()


async def test_an_idle_session_is_ended_and_its_login_with_it(remote: Remote) -> None:
    device, session = await remote.enrolled("admin", "acct-owner")
    login = remote.service.broker.sessions[session.sid].login
    assert login is not None
    remote.api.clock.advance(1800)
    await remote.service.broker.end_idle(1800)
    await asyncio.wait_for(session.closed.wait(), 10)
    assert session.close_reason == "idle"
    with pytest.raises(NotAuthenticated):
        await remote.api.parts.context.tokens.verify_access(login.access_token)
    await device.close()


async def test_an_invitation_session_may_not_send_more_than_an_enrolment(remote: Remote) -> None:
    link = await remote.invite("admin")
    invitation = InvitationLink.parse(link)
    device = remote.device("acct-big")
    session = await device.open(
        invitation.rid, invitation.recorder_static, invitation=invitation.invitation
    )
    with pytest.raises(TunnelError):
        await session.call("POST", "/api/v1/users", body=b"x" * 50_000, timeout_s=5)
    assert remote.service.devices and await remote.service.devices.all() == []
    await device.close()
