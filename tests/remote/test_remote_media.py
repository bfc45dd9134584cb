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
from tests.remote.site import CANARY, SLOW_GOP, Phone, Site, remote_site

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
    await asyncio.sleep(3)  # three parts' worth: none more may appear
    assert stored_parts(site, view) == stopped_at > 0
