"""What only the SQLite adapter has: a file that outlives the process, and a versioned schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from recorder.errors import IndexFailure, SchemaTooNew
from recorder.storage.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate
from recorder.storage.model import Keyframe, Protection
from recorder.storage.sqlite_index import SqliteSegmentIndex

from .conftest import T0, new_segment


def _pragma(db: Path, name: str) -> object:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "index.db"  # parent directories are created
    async with SqliteSegmentIndex(db) as index:
        await index.ensure_camera("cam", "Garden")
        seg = await index.add_segment(new_segment("cam", T0, keyframes=(Keyframe(0, 10),)))
        prot = await index.add_protection(Protection("cam", T0, T0 + 1, "clip"))
    async with SqliteSegmentIndex(db) as index:
        assert await index.get_segment(seg.id) == seg
        assert await index.protections() == [prot]
        assert (await index.cameras())[0].name == "Garden"
    assert _pragma(db, "journal_mode") == "wal"
    assert _pragma(db, "user_version") == LATEST_VERSION


async def test_old_schema_is_migrated_and_usage_backfilled(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    # A database written by a recorder that only knew schema version 1, with data in it.
    async with aiosqlite.connect(db, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:1]) == 1
        await conn.execute("INSERT INTO cameras VALUES ('cam', 'cam', 0)")
        for i, size in enumerate([100, 250]):
            seg = new_segment("cam", T0 + i * 10_000, bytes=size)
            await conn.execute(
                "INSERT INTO segments (camera_id, run_start_ms, start_ms, end_ms, bytes, path, "
                "init_bytes, keyframes, video_codec, has_audio) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ("cam", seg.start_ms, seg.start_ms, seg.end_ms, size, seg.path, 10, b"\x01", "", 0),
            )
    async with SqliteSegmentIndex(db) as index:
        assert (await index.usage()).total_bytes == 350  # v2's usage table counted old rows
        await index.add_segment(new_segment("cam", T0 + 20_000, bytes=50))
        assert (await index.usage()).total_bytes == 400  # and its triggers count new ones
        await index.add_protection(Protection("cam", T0, T0 + 1, "clip"))  # v2's table exists
    assert _pragma(db, "user_version") == 2


async def test_failing_migration_leaves_previous_version_intact(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    async with SqliteSegmentIndex(db) as index:
        await index.ensure_camera("cam")
    broken = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "broken", ("CREATE TABLE half (x)", "SELECT * FROM nope")),
    )
    with pytest.raises(IndexFailure, match="broken"):
        await SqliteSegmentIndex(db, migrations=broken).open()
    assert _pragma(db, "user_version") == LATEST_VERSION
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables
    async with SqliteSegmentIndex(db) as index:  # still perfectly usable
        assert [c.id for c in await index.cameras()] == ["cam"]


async def test_index_from_a_newer_recorder_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    async with SqliteSegmentIndex(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNew, match="99"):
        await SqliteSegmentIndex(db).open()


async def test_unreadable_database_is_an_index_failure(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexFailure):
        await SqliteSegmentIndex(db).open()


async def test_garbage_survives_a_crash_between_mark_and_unlink(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    async with SqliteSegmentIndex(db) as index:
        await index.ensure_camera("cam")
        seg = await index.add_segment(new_segment("cam", T0))
        await index.mark_garbage([seg.id])
        # ... the process dies here, before unlinking.
    async with SqliteSegmentIndex(db) as index:
        assert [g.path for g in await index.list_garbage()] == [seg.path]
        assert await index.get_segment(seg.id) is None
        assert (await index.usage()).garbage_bytes == seg.bytes
