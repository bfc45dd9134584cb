"""Remote media on `skycam relay` as a real process: a recorder's upload rights used over HTTP
(inside the prefix accepted, outside refused, a forged policy refused), a device's signed links
(its own session only; a tampered link refused)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from .relay_fixtures import RecorderKey, b64url
from .relay_host import RelayClient, RelayProcess, open_ws, receive, send

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(relay: RelayProcess) -> Iterator[RelayClient]:
    client = RelayClient(relay)
    yield client
    client.close()


def post_form(upload: dict[str, object], key: str, data: bytes) -> httpx.Response:
    fields = {**upload["fields"], "key": key}  # type: ignore[dict-item]
    return httpx.post(str(upload["url"]), data=fields, files={"file": ("blob", data)}, timeout=30)


async def test_upload_rights_and_links_through_the_local_host(api: RelayClient) -> None:
    key = RecorderKey()
    rec = await open_ws(api.recorder_url(key))
    inv = b64url(secrets.token_bytes(12))
    await send(rec, {"t": "invite", "inv": inv, "exp": int(time.time()) + 3600, "ref": 1})
    assert await receive(rec) == {"t": "ok", "ref": 1}
    owner = api.signup_login("media-owner@example.org", inv)
    other = api.signup_login("media-other@example.org", inv)
    acct = owner["account"]["id"]
    await send(rec, {"t": "media_open", "acct": acct, "kind": "live", "ref": 2})
    assert (await receive(rec))["code"] == "no_grant"
    await send(rec, {"t": "grant", "acct": acct, "ref": 3})
    assert await receive(rec) == {"t": "ok", "ref": 3}
    await send(rec, {"t": "media_open", "acct": acct, "kind": "live", "ref": 4})
    opened = await receive(rec)
    upload = opened["upload"]
    prefix = upload["prefix"]
    assert prefix == f"media/{key.rid}/{opened['msid']}/" and upload["url"].endswith("/uploads")

    assert post_form(upload, prefix + "p00000001.m4s", b"SKM1 sealed").status_code == 204
    outside = post_form(upload, f"media/{key.rid}/{b64url(secrets.token_bytes(16))}/x", b"x")
    assert outside.status_code == 403
    assert post_form(upload, f"thumbnails/{key.rid}/cam/e1", b"x").status_code == 403
    forged = {**upload, "fields": {**upload["fields"], "signature": "0" * 64}}
    assert post_form(forged, prefix + "p00000002.m4s", b"x").status_code == 403

    wanted = {"keys": [prefix + "p00000001.m4s"]}
    links = api.post("/v1/media/links", wanted, str(owner["access_token"]))
    assert links.status_code == 200, links.text
    url = links.json()["links"][prefix + "p00000001.m4s"]
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(url)).content == b"SKM1 sealed"
        assert (await http.get(url.replace("exp=", "exp=9"))).status_code == 403
    assert api.post("/v1/media/links", wanted, str(other["access_token"])).status_code == 403
    assert api.post("/v1/media/links", wanted).status_code == 401

    await send(rec, {"t": "media_end", "msid": opened["msid"], "ref": 5})
    assert await receive(rec) == {"t": "ok", "ref": 5}
    assert api.post("/v1/media/links", wanted, str(owner["access_token"])).status_code == 403
    await rec.close()
    # The keys that sign uploads and links: made at first start, 0600, never in the log.
    for name in ("uploads.key", "objects.key"):
        path = api.relay.data_dir / name
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text().strip() not in api.relay.logs()
