"""One contract for each storage port, run against every adapter: DynamoDB and S3 under moto,
SQLite and local files in tmp_path."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.errors import BadRequest, Forbidden, NotFound
from cloud.chalicelib.storage.dynamo_items import DynamoItemStore, create_table
from cloud.chalicelib.storage.items import ItemStore
from cloud.chalicelib.storage.local_objects import LocalObjectStore
from cloud.chalicelib.storage.objects import ObjectStore
from cloud.chalicelib.storage.s3_objects import S3ObjectStore
from cloud.chalicelib.storage.sqlite_items import SqliteItemStore


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture(params=["sqlite", "dynamodb"])
def items(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ItemStore, FakeClock]]:
    clock = FakeClock()
    if request.param == "sqlite":
        store = SqliteItemStore(tmp_path / "relay.db", clock)
        yield store, clock
        store.close()
    else:
        request.getfixturevalue("aws")
        client = boto3.client("dynamodb")
        create_table(client, "relay")
        yield DynamoItemStore(client, "relay", clock), clock


class TestItemStoreContract:
    def test_put_get_roundtrip_keeps_types(self, items: tuple[ItemStore, FakeClock]) -> None:
        store, _ = items
        item: dict[str, Any] = {"n": 3, "s": "x", "b": True, "none": None, "l": [1, "a"]}
        item["d"] = {"k": 2}
        assert store.put("a", "1", item)
        assert store.get("a", "1") == item
        assert store.get("a", "2") is None

    def test_put_if_absent_refuses_a_live_item_but_not_an_expired_one(
        self, items: tuple[ItemStore, FakeClock]
    ) -> None:
        store, clock = items
        now = int(clock.now())
        assert store.put("n", "x", {"v": 1}, expires_at=now + 60, if_absent=True)
        assert not store.put("n", "x", {"v": 2}, if_absent=True)
        assert store.get("n", "x") == {"v": 1}
        clock.advance(61)
        assert store.get("n", "x") is None
        assert store.put("n", "x", {"v": 3}, if_absent=True)
        assert store.get("n", "x") == {"v": 3}

    def test_update_is_conditional(self, items: tuple[ItemStore, FakeClock]) -> None:
        store, _ = items
        assert store.update("u", "1", {"a": 1}) is None  # absent: no upsert
        store.put("u", "1", {"used": False, "acct": "A"})
        assert store.update("u", "1", {"used": True}, expect={"used": False}) == {
            "used": True,
            "acct": "A",
        }
        assert store.update("u", "1", {"used": True}, expect={"used": False}) is None
        assert store.update("u", "1", {"x": 1}, expect={"missing": None}) is not None

    def test_delete_returns_the_item_once(self, items: tuple[ItemStore, FakeClock]) -> None:
        store, clock = items
        store.put("t", "1", {"acct": "A"}, expires_at=int(clock.now()) + 30)
        assert store.delete("t", "1", expect={"acct": "B"}) is None
        assert store.delete("t", "1") == {"acct": "A"}
        assert store.delete("t", "1") is None
        store.put("t", "2", {"acct": "A"}, expires_at=int(clock.now()) + 30)
        clock.advance(30)
        assert store.delete("t", "2") is None  # expired: as if consumed

    def test_query_by_prefix_in_order_skipping_expired(
        self, items: tuple[ItemStore, FakeClock]
    ) -> None:
        store, clock = items
        now = int(clock.now())
        for sk in ("grant#b", "grant#a", "conn#z", "grant#c"):
            store.put("rec#1", sk, {"v": sk})
        store.put("rec#1", "grant#d", {"v": "grant#d"}, expires_at=now + 1)
        store.put("rec#2", "grant#x", {"v": "grant#x"})
        clock.advance(5)
        assert [sk for sk, _ in store.query("rec#1", "grant#")] == ["grant#a", "grant#b", "grant#c"]
        newest = store.query("rec#1", "grant#", newest_first=True, limit=2)
        assert newest == [("grant#c", {"v": "grant#c"}), ("grant#b", {"v": "grant#b"})]
        assert len(store.query("rec#1")) == 4

    def test_increment_counts_atomically(self, items: tuple[ItemStore, FakeClock]) -> None:
        store, clock = items
        exp = int(clock.now()) + 60
        assert store.increment("rate#a", "w1", "n", 1, expires_at=exp) == 1
        assert store.increment("rate#a", "w1", "n", 2, expires_at=exp) == 3
        if isinstance(store, SqliteItemStore):  # threads race on the one connection
            threads = [
                threading.Thread(
                    target=lambda: [
                        store.increment("rate#a", "w2", "n", 1, expires_at=exp) for _ in range(50)
                    ]
                )
                for _ in range(4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert store.get("rate#a", "w2") == {"n": 200}

    def test_reserved_fields_are_refused(self, items: tuple[ItemStore, FakeClock]) -> None:
        store, _ = items
        with pytest.raises(ValueError):
            store.put("a", "b", {"pk": "x"})


@pytest.fixture(params=["files", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "files":
        yield LocalObjectStore(tmp_path / "objects", "http://127.0.0.1:1", b"k" * 32, FakeClock())
    else:
        request.getfixturevalue("aws")
        client = boto3.client("s3")
        client.create_bucket(Bucket="media")
        yield S3ObjectStore(client, "media")


class TestObjectStoreContract:
    def test_put_get_delete(self, objects: ObjectStore) -> None:
        objects.put("thumbs/rec1/e1.bin", b"\x00cipher")
        assert objects.get("thumbs/rec1/e1.bin") == b"\x00cipher"
        objects.put("thumbs/rec1/e1.bin", b"v2")
        assert objects.get("thumbs/rec1/e1.bin") == b"v2"
        objects.delete("thumbs/rec1/e1.bin")
        with pytest.raises(NotFound):
            objects.get("thumbs/rec1/e1.bin")
        objects.delete("thumbs/rec1/e1.bin")  # idempotent

    def test_bad_keys_are_refused(self, objects: ObjectStore) -> None:
        for key in ("../etc/passwd", "/abs", "a/../b", "a b"):
            with pytest.raises(BadRequest):
                objects.put(key, b"x")

    def test_presigned_url_names_the_object(self, objects: ObjectStore) -> None:
        objects.put("media/s1/part-0.bin", b"x")
        url = objects.presign_get("media/s1/part-0.bin", 60)
        assert "media/s1/part-0.bin" in url
        assert url.startswith(("http://", "https://"))


def test_local_presigned_url_is_checked(tmp_path: Path) -> None:
    clock = FakeClock()
    store = LocalObjectStore(tmp_path / "o", "http://127.0.0.1:1", b"k" * 32, clock)
    store.put("a/b", b"data")
    url = store.presign_get("a/b", 60)
    query = dict(p.split("=") for p in url.split("?")[1].split("&"))
    assert store.open_signed("a/b", int(query["exp"]), query["sig"]) == b"data"
    with pytest.raises(Forbidden):
        store.open_signed("a/b", int(query["exp"]) + 1, query["sig"])
    clock.advance(61)
    with pytest.raises(Forbidden):
        store.open_signed("a/b", int(query["exp"]), query["sig"])
    assert (tmp_path / "o" / "a" / "b").stat().st_mode & 0o777 == 0o600


def test_s3_presigned_url_downloads_through_moto_server() -> None:
    """A presigned URL is a real credential: fetch it over HTTP from moto's server."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="media")
        store = S3ObjectStore(client, "media")
        store.put("p/x.bin", b"sealed")
        with urllib.request.urlopen(store.presign_get("p/x.bin", 60), timeout=10) as reply:
            assert reply.read() == b"sealed"
    finally:
        server.stop()


def test_sqlite_sweep_removes_expired_rows_only(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SqliteItemStore(tmp_path / "relay.db", clock)
    store.put("t", "old", {}, expires_at=int(clock.now()) + 10)
    store.put("t", "new", {}, expires_at=int(clock.now()) + 100)
    store.put("t", "forever", {})
    clock.advance(50)
    assert store.purge_expired() == 1
    assert [sk for sk, _ in store.query("t")] == ["forever", "new"]
    store.close()
