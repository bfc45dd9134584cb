"""Remote media end to end, real processes on loopback: a simulated camera -> the recorder ->
sealed parts uploaded to `skycam relay` with the rights it hands out -> the Python reference
device, which gets signed links from the relay, decrypts and decodes with PyAV.

The last test is the privacy canary: nothing the relay stored or logged holds the camera's id
or any plaintext the devices decrypted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from recorder.remote.parts import PLAYLIST
from recorder.remote.viewer import RemoteView, StreamDecoder, parse_playlist
from tests.remote.site import CANARY, PASSWORD, SLOW_GOP, Phone, Site, remote_site

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with remote_site(
        tmp_path_factory.mktemp("relay"), tmp_path_factory.mktemp("site"), ahead_s=3, lease_s=6
    ) as built:
        yield built


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner(site: Site) -> AsyncIterator[Phone]:
    await site.until(site.connected, 60, "the tunnel connected")
    phone = await site.phone("owner@example.test")
    yield phone
    await phone.close()


async def links_status(site: Site, phone: Phone, view: RemoteView) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(
            f"{site.relay.rest}/v1/media/links",
            json={"keys": [view.key_of(PLAYLIST)]},
            headers={"Authorization": f"Bearer {phone.token}"},
        )
    return reply.status_code


def stored_parts(site: Site, view: RemoteView) -> int:
    folder = site.relay.data_dir / "objects" / view.key_of("")
    return len(list(folder.glob("p*.m4s")))


async def watch(site: Site, view: RemoteView, parts: int, timeout_s: float = 60) -> list[str]:
    """Follow the live playlist until `parts` parts were fetched, decrypted and decoded."""
    decoder = StreamDecoder()
    inits: dict[str, bytes] = {}
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < parts:
        assert time.monotonic() < deadline, f"only {len(seen)} parts arrived"
        text = await view.fetch(PLAYLIST)
        if text is None:
            await asyncio.sleep(0.2)
            continue
        for entry in parse_playlist(text.decode()):
            if entry.name in seen or (not seen and not entry.independent):
                continue
            if entry.init not in inits:
                inits[entry.init] = await view.fetch_when_ready(entry.init)
            media = await view.fetch_when_ready(entry.name)
            site.plaintexts.append(media)
            assert decoder.decode(inits[entry.init], media) > 0, entry
            seen.append(entry.name)
        await asyncio.sleep(0.3)
    return seen


async def test_a_device_watches_live_through_the_relay(site: Site, owner: Phone) -> None:
    view = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/live", {"camera_id": CANARY}
    )
    assert view.answer["stream"] == "sub" and CANARY not in view.answer["prefix"]
    first = await watch(site, view, 3)
    later = await watch(site, view, 6)
    assert later[-1] > first[-1]  # parts keep arriving
    await view.stop()
    assert await links_status(site, owner, view) == 403  # its session ended on the relay


def session_prefixes(site: Site) -> set[str]:
    media = site.relay.data_dir / "objects" / "media"
    return {p.name for p in media.glob("*/*") if p.is_dir()}


async def test_two_devices_of_one_account_share_one_live_upload(site: Site, owner: Phone) -> None:
    """The owner's phone and tablet watch the same camera: one session (prefix, key), each
    part uploaded once, both decode; one leaves and the other keeps watching."""
    tablet = await site.another_device("owner@example.test")
    before = session_prefixes(site)
    live = "/api/v1/remote/live"
    phone_view = await RemoteView.start(owner.session, owner.links, live, {"camera_id": CANARY})
    tablet_view = await RemoteView.start(tablet.session, tablet.links, live, {"camera_id": CANARY})
    try:
        assert tablet_view.msid == phone_view.msid
        assert tablet_view.answer["key"] == phone_view.answer["key"]
        started = time.monotonic()
        seen = await watch(site, phone_view, 4)
        assert set(await watch(site, tablet_view, 4)) & set(seen)  # the same parts, both decode
        # One upload: one new session prefix, parts at the rate of one viewer (~1 per second).
        assert session_prefixes(site) - before == {phone_view.msid}
        elapsed = time.monotonic() - started
        assert stored_parts(site, phone_view) <= elapsed / 1.0 + 4
        await phone_view.stop()
        assert await links_status(site, tablet, tablet_view) == 200  # the tablet goes on
        later = await watch(site, tablet_view, 3)
        assert later[-1] > seen[-1]
    finally:
        await tablet_view.stop()
        await tablet.close()
    assert await links_status(site, tablet, tablet_view) == 403  # the last one left: it ended


async def test_main_stream_on_request_and_one_second_parts_with_a_4s_gop(
    site: Site, owner: Phone
) -> None:
    view = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/live", {"camera_id": SLOW_GOP, "stream": "main"}
    )
    await watch(site, view, 6)
    entries = parse_playlist((await view.fetch(PLAYLIST) or b"").decode())
    assert all(0.5 <= e.duration_s <= 1.6 for e in entries), [e.duration_s for e in entries]
    assert any(not e.independent for e in entries), "parts are cut between keyframes"
    init = await view.fetch_when_ready(entries[-1].init)
    assert b"avc1" in init and (1280).to_bytes(2, "big") in init
    await view.stop()


async def test_a_lapsed_lease_stops_the_uploads(site: Site, owner: Phone) -> None:
    view = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/live", {"camera_id": CANARY}
    )
    await watch(site, view, 2)
    await view.stop(tell=False)  # the viewer goes away without a word
    # Renewing would hold it: only the relay is asked, until it forgets the session.
    deadline = time.monotonic() + 30
    while await links_status(site, owner, view) != 403:
        assert time.monotonic() < deadline, "the lease never lapsed"
        await asyncio.sleep(0.5)
    stopped_at = stored_parts(site, view)
    # Another viewer of the same camera gets three new parts meanwhile: the lapsed one none.
    other = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/live", {"camera_id": CANARY}
    )
    await watch(site, other, 3)
    assert stored_parts(site, view) == stopped_at > 0
    await other.stop()


async def recorded_range(site: Site, camera: str, segments: int) -> tuple[int, int]:
    """Wait until `segments` segments are recorded; their range."""
    with site.lan() as lan:
        deadline = time.monotonic() + 90
        while True:
            now = int(time.time() * 1000)
            timeline = lan.get(
                f"/api/v1/cameras/{camera}/timeline", params={"start": now - 600_000, "end": now}
            ).json()
            runs = timeline["runs"]
            if runs and runs[-1]["end_ms"] - runs[0]["start_ms"] >= segments * 2000:
                return runs[0]["start_ms"], runs[-1]["end_ms"]
            assert time.monotonic() < deadline, "not enough recordings"
            await asyncio.sleep(1)


async def test_a_recorded_range_plays_with_its_duration_and_seeks(site: Site, owner: Phone) -> None:
    start, end = await recorded_range(site, CANARY, 8)
    view = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/playback",
        {"camera_id": CANARY, "start": str(start), "end": str(end)},
    )  # fmt: skip
    entries = parse_playlist((await view.fetch_when_ready(PLAYLIST)).decode())
    assert len(entries) >= 4
    assert sum(e.duration_s for e in entries) == pytest.approx(view.answer["duration_s"], abs=0.01)
    assert view.answer["duration_s"] == pytest.approx((end - start) / 1000, abs=4.5)
    first = entries[0]
    media = await view.fetch_when_ready(first.name)
    site.plaintexts.append(media)
    frames = StreamDecoder().decode(await view.fetch_when_ready(first.init), media)
    assert frames == pytest.approx(first.duration_s * 15, abs=3)  # 15 fps, whole segment
    # Ahead of the playhead by 3 s only: the end of the range is not uploaded yet...
    last = entries[-1]
    uploaded = set((await view.renew())["uploaded"])
    assert first.name in uploaded and last.name not in uploaded
    # ...until the device seeks there.
    await view.seek(sum(e.duration_s for e in entries[:-1]) + 0.5)
    media = await view.fetch_when_ready(last.name, timeout_s=30)
    assert StreamDecoder().decode(await view.fetch_when_ready(last.init), media) > 0
    await view.stop()


async def test_a_clip_downloads_as_one_sealed_object(site: Site, owner: Phone) -> None:
    _, end = await recorded_range(site, CANARY, 3)
    with site.lan() as lan:
        made = lan.post(
            f"/api/v1/cameras/{CANARY}/clips",
            json={"start": str(end - 4000), "end": str(end), "name": "door"},
        )
        assert made.status_code == 202, made.text
        clip_id = made.json()["id"]
        deadline = time.monotonic() + 60
        while lan.get(f"/api/v1/clips/{clip_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
        local = lan.get(f"/api/v1/clips/{clip_id}/download").content
    view = await RemoteView.start(
        owner.session, owner.links, f"/api/v1/remote/clips/{clip_id}", None
    )
    clip = await view.fetch_when_ready(view.answer["name"])
    assert clip == local and len(clip) == view.answer["bytes"]
    await view.stop()


async def test_event_thumbnails_are_sealed_on_the_relay(site: Site, owner: Phone) -> None:
    deadline = time.monotonic() + 120
    while True:
        reply = await owner.session.call("GET", "/api/v1/remote/events", query=f"camera={CANARY}")
        assert reply.status == 200, reply.body
        # An ended event: an ongoing one's thumbnail may still improve between two reads.
        events = [e for e in reply.json()["events"] if e["thumbnail"] and e["end_ms"]]
        if events:
            break
        assert time.monotonic() < deadline, "no event with a thumbnail"
        await asyncio.sleep(1)
    event = events[0]
    reference = event["thumbnail"]
    assert CANARY not in reference["key"] and reference["key"].endswith(f"/e{event['id']}")
    jpeg = await owner.links.thumbnail(reference)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    site.plaintexts.append(jpeg)
    with site.lan() as lan:
        assert lan.get(f"/api/v1/events/{event['id']}/thumbnail.jpg").content == jpeg


async def test_rights_are_checked_at_both_doors(site: Site, owner: Phone) -> None:
    with site.lan() as lan:
        made = lan.post("/api/v1/users", json={"username": "nanny", "password": PASSWORD})
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        granted = lan.put(
            f"/api/v1/users/{user_id}/cameras/{SLOW_GOP}", json={"rights": ["live", "playback"]}
        )
        assert granted.status_code == 200, granted.text
        # A LAN caller (even the admin) never gets a media key.
        assert lan.post("/api/v1/remote/live", json={"camera_id": CANARY}).status_code == 409
    nanny = await site.phone("nanny@example.test", "nanny")
    refused = await nanny.session.call(
        "POST", "/api/v1/remote/live", json_body={"camera_id": CANARY}
    )
    assert refused.status == 403
    events = await nanny.session.call("GET", "/api/v1/remote/events", query=f"camera={CANARY}")
    assert events.status == 403
    allowed = await nanny.session.call(
        "POST", "/api/v1/remote/live", json_body={"camera_id": SLOW_GOP}
    )
    assert allowed.status == 201
    # Another account may not have links to the owner's session, nor the owner to this one.
    theirs = RemoteView(nanny.session, nanny.links, allowed.json())
    owners = await RemoteView.start(
        owner.session, owner.links, "/api/v1/remote/live", {"camera_id": CANARY}
    )
    assert await links_status(site, nanny, owners) == 403
    assert await links_status(site, owner, theirs) == 403
    assert await links_status(site, nanny, theirs) == 200
    # The right withdrawn on the recorder: the session ends at once, without waiting for a
    # renewal (the relay forgets it: no more links), and a renewal is refused.
    assert (
        await nanny.session.call("POST", f"/api/v1/remote/media/{theirs.msid}/lease")
    ).status == 200
    with site.lan() as lan:  # well inside the 6 s lease just renewed
        lan.put(f"/api/v1/users/{user_id}/cameras/{SLOW_GOP}", json={"rights": []})
    deadline = time.monotonic() + 3
    while await links_status(site, nanny, theirs) != 403:
        assert time.monotonic() < deadline, "the session outlived the right"
        await asyncio.sleep(0.2)
    renewed = await nanny.session.call("POST", f"/api/v1/remote/media/{theirs.msid}/lease")
    assert renewed.status in (403, 404)
    await owners.stop()
    await nanny.close()


async def test_privacy_canary_nothing_on_the_relay_is_plaintext(site: Site) -> None:
    """Runs last: everything the relay stored and logged, against the camera's id and every
    plaintext object the devices decrypted in the tests above."""
    assert len(site.plaintexts) >= 10
    logs = site.relay.logs()
    stored = b"".join(p.read_bytes() for p in site.relay.data_dir.rglob("*") if p.is_file())
    names = "\n".join(str(p) for p in site.relay.data_dir.rglob("*"))
    assert CANARY not in logs and CANARY.encode() not in stored and CANARY not in names
    for plaintext in site.plaintexts:
        middle = len(plaintext) // 2
        assert plaintext[middle : middle + 48] not in stored
