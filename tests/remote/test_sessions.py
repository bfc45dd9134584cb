"""Remote media sessions with fakes beside the real parts (a relay answering control
messages, an uploader keeping objects in memory): sealing on upload, rights renewed before they
expire, a refused renewal, the lease, the tunnel session ending, upload hiccups."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from recorder.clock import FakeClock
from recorder.remote.errors import RightsRefused, UploadFailed
from recorder.remote.sealing import media_aad, open_sealed, unb64url
from recorder.remote.sessions import RemoteMedia
from recorder.remote.uploads import RelayRights, UploadRights
from recorder.tunnel.errors import RelayRefused

MSID = "AAECAwQFBgcICQoLDA0ODw"


class FakeRelay:
    """Answers the media control messages as the relay does; can be told to refuse."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[dict[str, Any]] = []
        self.refuse: str | None = None
        self.opened = 0

    def _upload(self, msid: str) -> dict[str, Any]:
        return {
            "url": "http://store.test/uploads", "fields": {"policy": "p"},
            "prefix": f"media/rid/{msid}/", "max_bytes": 1000,
            "expires_at": self.clock.now() + 300,
        }  # fmt: skip

    async def control(self, message: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(message)
        if self.refuse and message["t"] != "media_end":
            raise RelayRefused(self.refuse, "refused")
        if message["t"] == "media_open":
            self.opened += 1
        msid = message.get("msid") or (MSID if self.opened == 1 else f"{MSID[:-1]}{self.opened}")
        return {"t": "ok", "msid": msid, "upload": self._upload(msid)}


class MemoryUploader:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = 0

    async def upload(self, rights: UploadRights, name: str, data: bytes) -> None:
        if self.fail:
            self.fail -= 1
            raise UploadFailed("the store is away")
        self.objects[rights.key(name)] = data


def world(
    alive: set[str] | None = None,
) -> tuple[RemoteMedia, FakeRelay, MemoryUploader, FakeClock]:
    clock = FakeClock()
    relay, uploader = FakeRelay(clock), MemoryUploader()
    owners = alive if alive is not None else {"tunnel-1"}
    media = RemoteMedia(
        "rid", RelayRights(relay), uploader, clock, lambda sid: sid in owners, lease_s=20
    )
    return media, relay, uploader, clock


async def test_objects_are_sealed_for_their_session_and_rights_renewed_in_time() -> None:
    media, relay, uploader, clock = world()
    session = await media.open("live", "acct-1", "tunnel-1", 7)
    assert relay.sent[0] == {"t": "media_open", "acct": "acct-1", "kind": "live"}
    await session.uploads.put("p00000001.m4s", b"frame bytes")
    sealed = uploader.objects[f"media/rid/{MSID}/p00000001.m4s"]
    assert b"frame bytes" not in sealed
    key = unb64url(media.answer(session)["key"])
    assert open_sealed(key, media_aad(MSID, "p00000001.m4s"), sealed) == b"frame bytes"
    clock.advance(250)  # within 60 s of the rights' expiry: renewed before the next upload
    await session.uploads.put("p00000002.m4s", b"more")
    assert [m["t"] for m in relay.sent] == ["media_open", "media_renew"]
    relay.refuse = "no_grant"  # the grant was revoked on the relay
    clock.advance(250)
    with pytest.raises(RightsRefused) as refused:
        await session.uploads.put("p00000003.m4s", b"later")
    assert refused.value.code == "no_grant"


async def test_a_session_ends_with_its_lease_or_its_tunnel_session() -> None:
    alive = {"tunnel-1", "tunnel-2"}
    media, relay, _uploader, clock = world(alive)
    first = await media.open("live", "acct-1", "tunnel-1", 7)
    second = await media.open("live", "acct-2", "tunnel-2", 8)
    forever = asyncio.Event()
    media.start(first, None, forever.wait)
    media.start(second, None, forever.wait)
    clock.advance(15)
    assert media.lease(first.msid, "tunnel-2") is None  # not this device's session
    assert media.lease(first.msid, "tunnel-1") is first
    clock.advance(10)  # the second's lease (20 s) lapsed, the first was renewed at 15 s
    await asyncio.wait_for(second.ended.wait(), 5)
    assert second.end_reason == "lease lapsed" and not first.ended.is_set()
    alive.discard("tunnel-1")  # the device's tunnel session ended (revoked, gone)
    await asyncio.wait_for(first.ended.wait(), 5)
    assert "tunnel session ended" in first.end_reason
    assert [m["t"] for m in relay.sent].count("media_end") == 2
    assert media.sessions == {}


async def test_a_failing_upload_ends_the_session_and_a_refusal_is_a_4xx() -> None:
    media, relay, _uploader, _clock = world()
    session = await media.open("live", "acct-1", "tunnel-1", 7)

    async def broken() -> None:
        raise UploadFailed("the store refused")

    media.start(session, None, broken)
    await asyncio.wait_for(session.ended.wait(), 5)
    assert "upload stopped" in session.end_reason
    relay.refuse = "no_grant"
    with pytest.raises(RightsRefused) as refused:
        await media.open("live", "acct-1", "tunnel-1", 7)
    assert refused.value.code == "no_grant"


class Uploading:
    """A live upload stand-in: runs until cancelled, counting how often it was started."""

    started = 0

    def __init__(self, uploads: Any) -> None:
        self.uploads = uploads
        self.cancelled = asyncio.Event()

    async def run(self) -> None:
        Uploading.started += 1
        try:
            await asyncio.Event().wait()
        finally:
            self.cancelled.set()


async def test_devices_of_one_account_share_a_live_upload_and_leave_it_one_by_one() -> None:
    media, relay, _, _ = world(alive={"phone", "tablet", "stranger"})
    Uploading.started = 0
    phone = await media.join_live("acct-1", "phone", 7, "front", "sub", Uploading)
    tablet = await media.join_live("acct-1", "tablet", 8, "front", "sub", Uploading)
    other = await media.join_live("acct-2", "stranger", 9, "front", "sub", Uploading)
    await asyncio.sleep(0)
    # One upload for the account's two devices (one relay session, one key); another account
    # gets its own.
    assert tablet.msid == phone.msid and media.answer(tablet)["key"] == media.answer(phone)["key"]
    assert other.msid != phone.msid
    assert relay.opened == 2 and Uploading.started == 2
    work = phone.work
    # The phone stops watching: it alone leaves; the tablet goes on.
    assert await media.stop(phone.msid, "phone")
    assert media.lease(phone.msid, "phone") is None
    assert media.lease(tablet.msid, "tablet") is tablet
    assert not work.cancelled.is_set()
    assert {"t": "media_end", "msid": phone.msid} not in relay.sent
    # The last device leaves: the upload stops and the relay forgets the session.
    assert await media.stop(tablet.msid, "tablet")
    assert work.cancelled.is_set()
    assert relay.sent.count({"t": "media_end", "msid": phone.msid}) == 1
    # A device joining afterwards starts a new upload.
    again = await media.join_live("acct-1", "phone", 7, "front", "sub", Uploading)
    assert again.msid != phone.msid
    await media.close()


@pytest.mark.parametrize(
    "leaves", ["access withdrawn", "tunnel ended", "lease lapsed"], ids=lambda r: r.split()[0]
)
async def test_a_device_dropped_from_a_shared_live_view_ends_it_for_the_account(
    leaves: str,
) -> None:
    """The relay hands links to the account, not the device: a device that did not leave of its
    own accord (revoked, right withdrawn, gone) still holds the key, so the session it shared
    ends for every device (links refused from then on) and the others start a new one."""
    alive = {"phone", "tablet"}
    media, relay, _, clock = world(alive=alive)
    phone = await media.join_live("acct-1", "phone", 7, "front", "sub", Uploading)
    tablet = await media.join_live("acct-1", "tablet", 8, "front", "sub", Uploading)
    await asyncio.sleep(0)
    work = phone.work
    if leaves == "access withdrawn":
        assert await media.stop(phone.msid, "phone", reason="access withdrawn")
    elif leaves == "tunnel ended":
        alive.discard("phone")
    else:  # the tablet keeps renewing; the phone does not
        clock.advance(15)
        assert media.lease(tablet.msid, "tablet") is tablet
        clock.advance(10)
    for _ in range(200):  # the holders look every second of the fake clock
        if tablet.ended.is_set() and work.cancelled.is_set():
            break
        clock.advance(1)
        await asyncio.sleep(0.01)
    assert phone.ended.is_set() and tablet.ended.is_set(), (phone.end_reason, tablet.end_reason)
    assert "a device watching the same upload left" in tablet.end_reason
    assert media.lease(tablet.msid, "tablet") is None  # the device's player starts over
    assert work.cancelled.is_set()
    assert relay.sent.count({"t": "media_end", "msid": phone.msid}) == 1
    again = await media.join_live("acct-1", "tablet", 8, "front", "sub", Uploading)
    assert again.msid != phone.msid and media.answer(again)["key"] != media.answer(phone)["key"]
    await media.close()
