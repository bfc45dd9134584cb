"""The event store on real SQLite: rows, filters, pages, errors, schema."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from recorder.errors import EventQueryError, EventStoreFailure, SchemaTooNew
from recorder.motion.analysis import Box
from recorder.motion.model import EventNotice, EventQuery, EventSource, MotionEvent, NoticeKind
from recorder.motion.store import SqliteEventStore

T0 = 1_700_000_000_000


def event(
    camera: str = "front", start: int = T0, end: int | None = T0 + 5000, **kw: object
) -> MotionEvent:
    fields: dict[str, object] = {
        "id": 0,
        "camera_id": camera,
        "source": EventSource.SOFTWARE,
        "start_ms": start,
        "end_ms": end,
        "score": 0.02,
        "zones": (),
        "box": Box(0.1, 0.2, 0.3, 0.4),
        "thumbnail": None,
        "record_start_ms": start - 5000,
        "record_end_ms": None if end is None else end + 30_000,
        "updated_ms": start,
        "last_motion_ms": start,
    }
    fields.update(kw)
    return MotionEvent(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    async with SqliteEventStore(tmp_path / "events.sqlite3") as opened:
        yield opened


async def test_insert_get_update_round_trip(store: SqliteEventStore) -> None:
    stored = await store.insert(event(zones=("gate", "yard"), protection_id=7))
    assert stored.id > 0
    assert await store.get(stored.id) == stored
    changed = replace(stored, end_ms=T0 + 9000, thumbnail="thumbnails/front/2023-11-14/1.jpg")
    await store.update(changed)
    assert await store.get(stored.id) == changed
    assert await store.get(9999) is None


async def test_onvif_events_have_no_box(store: SqliteEventStore) -> None:
    stored = await store.insert(event(source=EventSource.ONVIF, box=None, score=0.0))
    fetched = await store.get(stored.id)
    assert fetched is not None and fetched.box is None and fetched.source is EventSource.ONVIF


async def test_query_filters_by_camera_time_source_and_zone(store: SqliteEventStore) -> None:
    a = await store.insert(event("front", T0, T0 + 5000, zones=("gate",)))
    b = await store.insert(event("back", T0 + 10_000, T0 + 12_000, source=EventSource.ONVIF))
    c = await store.insert(event("front", T0 + 20_000, None))  # still open
    assert [e.id for e in (await store.query(EventQuery())).events] == [c.id, b.id, a.id]

    front = await store.query(EventQuery(camera_ids=frozenset({"front"})))
    assert [e.id for e in front.events] == [c.id, a.id]
    assert (await store.query(EventQuery(camera_ids=frozenset()))).events == ()
    # Overlap: a ended at +5 s, so [+4 s, +11 s) sees a and b; an open event overlaps anything
    # after its start.
    window = await store.query(EventQuery(start_ms=T0 + 4000, end_ms=T0 + 11_000))
    assert [e.id for e in window.events] == [b.id, a.id]
    late = await store.query(EventQuery(start_ms=T0 + 60_000))
    assert [e.id for e in late.events] == [c.id]
    onvif = await store.query(EventQuery(sources=frozenset({EventSource.ONVIF})))
    assert [e.id for e in onvif.events] == [b.id]
    gate = await store.query(EventQuery(zone="gate"))
    assert [e.id for e in gate.events] == [a.id]
    # Counting uses the same filters (the dashboard's "events today").
    assert await store.count(EventQuery(camera_ids=frozenset({"front"}), limit=1)) == 2
    assert await store.count(EventQuery(start_ms=T0 + 4000, end_ms=T0 + 11_000)) == 2
    assert await store.count(EventQuery(sources=frozenset())) == 0


async def test_pages_follow_the_cursor_without_gaps_or_repeats(store: SqliteEventStore) -> None:
    starts = [T0 + (i // 2) * 1000 for i in range(23)]  # pairs share a start: ids break ties
    inserted = [await store.insert(event(start=s, end=s + 500)) for s in starts]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await store.query(EventQuery(limit=5, cursor=cursor))
        seen += [e.id for e in page.events]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [e.id for e in sorted(inserted, key=lambda e: (e.start_ms, e.id), reverse=True)]
    assert seen == expected and pages == 5


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"limit": 501},
        {"start_ms": T0, "end_ms": T0},
        {"cursor": "not-a-cursor"},
        {"cursor": "1.2; DROP TABLE events"},
    ],
)
def test_bad_queries_are_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(EventQueryError):
        EventQuery(**bad)  # type: ignore[arg-type]


async def test_open_events_and_pruning_candidates(store: SqliteEventStore) -> None:
    old = await store.insert(event(start=T0, end=T0 + 1000))
    open_one = await store.insert(event(start=T0 + 5000, end=None))
    recent = await store.insert(event(start=T0 + 100_000, end=T0 + 101_000))
    assert [e.id for e in await store.open_events()] == [open_one.id]
    assert [e.id for e in await store.ended_before(T0 + 50_000)] == [old.id]
    await store.delete([old.id])
    assert await store.get(old.id) is None and await store.get(recent.id) is not None


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    async with SqliteEventStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNew):
        await SqliteEventStore(path).open()


async def test_an_unusable_file_is_an_event_store_failure(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EventStoreFailure):
        await SqliteEventStore(path).open()


async def test_using_a_closed_store_fails_clearly(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    with pytest.raises(EventStoreFailure, match="not open"):
        await store.get(1)


def test_public_form_has_no_paths() -> None:
    public = EventNotice(NoticeKind.START, event(thumbnail="thumbnails/x/2023-11-14/1.jpg"))
    data = public.to_public()
    assert data["type"] == "event.start"
    assert data["event"]["has_thumbnail"] is True
    assert "thumbnails/" not in repr(data)


async def test_spans_are_oldest_first_with_open_events_at_their_last_motion(
    store: SqliteEventStore,
) -> None:
    await store.insert(event(start=T0 + 20_000, end=T0 + 26_000))
    await store.insert(event(start=T0, end=T0 + 5_000))
    await store.insert(event(start=T0 + 40_000, end=None, last_motion_ms=T0 + 43_000))
    await store.insert(event("back", start=T0 + 1_000, end=T0 + 2_000))
    front = EventQuery(camera_ids=frozenset({"front"}), start_ms=T0, end_ms=T0 + 60_000)
    assert await store.spans(front, limit=100) == [
        (T0, T0 + 5_000),
        (T0 + 20_000, T0 + 26_000),
        (T0 + 40_000, T0 + 43_000),
    ]
    assert await store.spans(front, limit=2) == [(T0, T0 + 5_000), (T0 + 20_000, T0 + 26_000)]
    later = EventQuery(camera_ids=frozenset({"front"}), start_ms=T0 + 30_000, end_ms=T0 + 60_000)
    assert await store.spans(later, limit=100) == [(T0 + 40_000, T0 + 43_000)]
