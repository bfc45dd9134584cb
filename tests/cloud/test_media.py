"""The relay's remote media: rights checked against grants, upload policies that hold (prefix,
size, expiry), links that expire, expiry of stored objects; S3's presigned POST under moto."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.config import RelayConfig
from cloud.chalicelib.errors import BadRequest, Forbidden, NoGrant, NotFound
from cloud.chalicelib.media.expiry import ExpiryRule
from cloud.chalicelib.media.s3_uploads import S3UploadSigner
from cloud.chalicelib.media.uploads import LocalUploadSigner
from cloud.chalicelib.signing_keys import FileSecret
from cloud.chalicelib.storage.local_objects import LocalObjectStore
from cloud.chalicelib.storage.s3_objects import S3ObjectStore
from cloud.chalicelib.storage.sqlite_items import SqliteItemStore
from cloud.chalicelib.tunnel.sender import RecordingSender
from cloud.chalicelib.wiring import Relay, build_relay
from cloud.local.uploads import accept_upload

from .relay_fixtures import RecorderKey
from .test_router import account_with_grant, connect_recorder, last

RID = "a" * 26
MSID = "AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Relay, FakeClock, RecordingSender]]:
    clock = FakeClock()
    sender = RecordingSender()
    items = SqliteItemStore(tmp_path / "relay.db", clock)
    config = RelayConfig(storage="local", data_dir=str(tmp_path))
    objects = LocalObjectStore(tmp_path / "objects", "http://relay.test", b"o" * 32, clock)
    uploads = LocalUploadSigner("http://relay.test", b"u" * 32, clock)
    relay = build_relay(
        config, sender, clock=clock, items=items, secret=FileSecret(tmp_path / "k"),
        objects=objects, uploads=uploads,
    )  # fmt: skip
    yield relay, clock, sender
    items.close()


def control(relay: Relay, sender: RecordingSender, conn: str, message: dict[str, object]) -> dict:  # type: ignore[type-arg]
    relay.router.message(conn, json.dumps({**message, "ref": "r1"}))
    return last(sender, conn)


def test_a_media_session_needs_the_accounts_grant_and_ends_with_it(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _clock, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "rec1")
    acct = account_with_grant(relay, key, "owner@example.test")
    stranger = "stranger-account-1"
    refused = control(relay, sender, "rec1", {"t": "media_open", "acct": stranger, "kind": "live"})
    assert refused["t"] == "error" and refused["code"] == "no_grant"
    opened = control(relay, sender, "rec1", {"t": "media_open", "acct": acct, "kind": "live"})
    assert opened["t"] == "ok" and opened["ref"] == "r1"
    prefix = opened["upload"]["prefix"]
    assert prefix == f"media/{key.rid}/{opened['msid']}/"
    links = relay.media.links(acct, [prefix + "index.m3u8"])
    assert links["links"][prefix + "index.m3u8"].startswith("http://relay.test/objects/media/")
    with pytest.raises(NoGrant):  # another recorder's objects
        relay.media.links(acct, [f"thumbnails/{RID}/cam/e1"])
    renewed = control(relay, sender, "rec1", {"t": "media_renew", "msid": opened["msid"]})
    assert renewed["t"] == "ok" and renewed["upload"]["prefix"] == prefix
    # Revoked: no renewal, no links, at once.
    relay.router.revoke(key.rid, acct, by="test")
    again = control(relay, sender, "rec1", {"t": "media_renew", "msid": opened["msid"]})
    assert again["t"] == "error" and again["code"] == "not_found"
    with pytest.raises(NoGrant):
        relay.media.links(acct, [prefix + "index.m3u8"])


def test_links_are_for_the_sessions_own_account_and_well_formed_keys(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _clock, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "rec1")
    owner = account_with_grant(relay, key, "owner@example.test")
    relay.items.put("inv#invite-0002", "meta", {"rid": key.rid, "exp": 4_000_000_000})
    other = relay.accounts.signup("b@example.test", "correct horse battery", "invite-0002", "x").id
    relay.grants.add(key.rid, other)
    opened = control(relay, sender, "rec1", {"t": "media_open", "acct": owner, "kind": "playback"})
    with pytest.raises(Forbidden):
        relay.media.links(other, [opened["upload"]["prefix"] + "index.m3u8"])
    assert relay.media.links(other, [f"thumbnails/{key.rid}/camkey/e7"])["links"]
    for bad in ([], ["../x"], [f"media/{key.rid}/{opened['msid']}/../../x"], ["other/a/b/c"]):
        with pytest.raises(BadRequest):
            relay.media.links(owner, bad)
    ended = control(relay, sender, "rec1", {"t": "media_end", "msid": opened["msid"]})
    assert ended["t"] == "ok"
    with pytest.raises(Forbidden):
        relay.media.links(owner, [opened["upload"]["prefix"] + "index.m3u8"])


def test_thumbnail_rights_only_for_a_recorder_someone_may_read(
    world: tuple[Relay, FakeClock, RecordingSender],
) -> None:
    relay, _clock, sender = world
    key = RecorderKey()
    connect_recorder(relay, key, "rec1")
    assert control(relay, sender, "rec1", {"t": "thumbs_open"})["code"] == "no_grant"
    account_with_grant(relay, key, "owner@example.test")
    ok = control(relay, sender, "rec1", {"t": "thumbs_open"})
    assert ok["upload"]["prefix"] == f"thumbnails/{key.rid}/"
    assert ok["upload"]["max_bytes"] == 512 * 1024


def form(signer: LocalUploadSigner, prefix: str, key: str, data: bytes) -> tuple[str, bytes]:
    upload = signer.presign_post(prefix, 1000, 300)
    fields = {**upload.fields, "key": key}
    request = httpx.Request("POST", upload.url, data=fields, files={"file": ("blob", data)})
    return request.headers["content-type"], request.read()


def test_local_upload_rights_hold_their_prefix_size_and_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    signer = LocalUploadSigner("http://relay.test", b"u" * 32, clock)
    objects = LocalObjectStore(tmp_path / "objects", "http://relay.test", b"o" * 32, clock)
    prefix = f"media/{RID}/{MSID}/"
    ctype, body = form(signer, prefix, prefix + "p1.m4s", b"sealed")
    assert accept_upload(signer, objects, ctype, body) == prefix + "p1.m4s"
    assert objects.get(prefix + "p1.m4s") == b"sealed"
    assert (tmp_path / "objects" / prefix / "p1.m4s").stat().st_mode & 0o777 == 0o600
    for key in (f"media/{RID}/BBBBBBBBBBBBBBBBBBBBBB/p1.m4s", prefix, "thumbnails/x/y/z"):
        ctype, body = form(signer, prefix, key, b"sealed")
        with pytest.raises((Forbidden, BadRequest)):  # 403, or 400 for no name at all
            accept_upload(signer, objects, ctype, body)
    ctype, body = form(signer, prefix, prefix + "big", b"x" * 1001)
    with pytest.raises(Forbidden, match="size"):
        accept_upload(signer, objects, ctype, body)
    # A policy edited to allow more is not signed.
    upload = signer.presign_post(prefix, 1000, 300)
    document = json.loads(base64.urlsafe_b64decode(upload.fields["policy"]))
    forged = base64.urlsafe_b64encode(json.dumps({**document, "prefix": "media/"}).encode())
    with pytest.raises(Forbidden, match="signature"):
        signer.check("media/x/y/z", forged.decode(), upload.fields["signature"], 10)
    ctype, body = form(signer, prefix, prefix + "late", b"sealed")
    clock.advance(301)
    with pytest.raises(Forbidden, match="expired"):
        accept_upload(signer, objects, ctype, body)


def test_signed_download_links_expire(tmp_path: Path) -> None:
    clock = FakeClock()
    objects = LocalObjectStore(tmp_path / "objects", "http://relay.test", b"o" * 32, clock)
    objects.put(f"thumbnails/{RID}/cam/e1", b"sealed")
    url = httpx.URL(objects.presign_get(f"thumbnails/{RID}/cam/e1", 60))
    exp, sig = int(url.params["exp"]), url.params["sig"]
    assert objects.open_signed(f"thumbnails/{RID}/cam/e1", exp, sig) == b"sealed"
    with pytest.raises(Forbidden):
        objects.open_signed(f"thumbnails/{RID}/cam/e2", exp, sig)
    clock.advance(61)
    with pytest.raises(Forbidden, match="expired"):
        objects.open_signed(f"thumbnails/{RID}/cam/e1", exp, sig)


def test_the_local_sweep_expires_objects_by_prefix(tmp_path: Path) -> None:
    clock = FakeClock(start=time.time())  # files get the real time as they are written
    objects = LocalObjectStore(tmp_path / "objects", "", b"o" * 32, clock)
    old, new = f"media/{RID}/{MSID}/p1.m4s", f"media/{RID}/{MSID}/p2.m4s"
    thumb = f"thumbnails/{RID}/cam/e1"
    for key in (old, new, thumb):
        objects.put(key, b"sealed")
    os.utime(tmp_path / "objects" / old, (clock.now() - 7200, clock.now() - 7200))
    os.utime(tmp_path / "objects" / thumb, (clock.now() - 7200, clock.now() - 7200))
    rules = (ExpiryRule("media/", 3600), ExpiryRule("thumbnails/", 86400))
    assert objects.expire(rules) == 1
    with pytest.raises(NotFound):
        objects.get(old)
    assert objects.get(new) == objects.get(thumb) == b"sealed"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a real HTTP server on loopback: the upload is a plain form POST to it."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_s3_presigned_post_is_limited_to_the_prefix_size_and_time(s3: str) -> None:
    client = boto3.client("s3", endpoint_url=s3, config=Config(signature_version="s3v4"))
    client.create_bucket(Bucket="media")
    clock = FakeClock()
    upload = S3UploadSigner(client, "media", clock).presign_post(f"media/{RID}/{MSID}/", 4096, 300)
    # The policy S3 enforces (moto stores without checking it; the local host's own check is
    # tested above): the key under the prefix, 1..max bytes, the expiry.
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    assert ["starts-with", "$key", f"media/{RID}/{MSID}/"] in policy["conditions"]
    assert ["content-length-range", 1, 4096] in policy["conditions"]
    assert policy["expiration"].endswith("Z") and upload.expires_at == clock.now() + 300
    key = upload.prefix + "p1.m4s"
    reply = httpx.post(
        upload.url, data={**upload.fields, "key": key}, files={"file": ("blob", b"sealed")}
    )
    assert reply.status_code == 204, reply.text
    store = S3ObjectStore(client, "media")
    assert store.get(key) == b"sealed"
    link = store.presign_get(key, 60)
    assert "X-Amz-Expires=60" in link and httpx.get(link).content == b"sealed"
