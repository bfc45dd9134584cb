"""`recorder/site.py` names every file under `data_dir`; no other module spells those names."""

from __future__ import annotations

import ast
from pathlib import Path

from recorder import site
from recorder.site import Site

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(ROOT / "recorder").rglob("*.py"), *(ROOT / "skycam").rglob("*.py")]
NAMES = {
    value
    for key, value in vars(site).items()
    if key.isupper() and isinstance(value, str)  # the directory and file names
}

# A string equal to one of the names that is not a path: (module, value) -> what it is.
NOT_PATHS = {
    ("recorder/api/routes/recordings.py", "recordings"): "the OpenAPI tag of the routes",
    ("recorder/api/routes/previews.py", "recordings"): "the OpenAPI tag of the routes",
    ("recorder/api/routes/clips.py", "clips"): "the OpenAPI tag of the routes",
    ("recorder/api/storage_audit.py", "recordings"): "the target named in the audit log",
    ("recorder/site_db.py", "clips"): "a migration's description",
    ("recorder/api/routes/relay.py", "relay"): "the OpenAPI tag of the routes",
    ("skycam/cli.py", "relay"): "the `skycam relay` command",
    (
        "recorder/remote/thumbnails.py",
        "thumbnails/",
    ): "the relay's object key prefix (its expiry rule)",
}


def spelled_names(source: str) -> list[tuple[int, str]]:
    """String literals of `source` that are a site name, or a path starting with one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            head = node.value.split("/", 1)[0]
            if node.value in NAMES or (head in NAMES and "/" in node.value):
                found.append((node.lineno, node.value))
    return sorted(found)


def test_only_site_py_spells_the_names_under_data_dir() -> None:
    spelled, excused = [], set()
    for path in SOURCES:
        name = path.relative_to(ROOT).as_posix()
        if name == "recorder/site.py":
            continue
        for line, value in spelled_names(path.read_text()):
            if (name, value) in NOT_PATHS:
                excused.add((name, value))
            else:
                spelled.append(f"{name}:{line}: {value!r}")
    assert spelled == [], "take the path from recorder.site.Site"
    assert excused == set(NOT_PATHS), "remove the entries nothing needs any more"


def test_the_check_sees_a_name_spelled_by_hand() -> None:
    source = 'index = data_dir / "index.sqlite3"\nthumb = f"thumbnails/{cam}"\nx = "other"\n'
    assert spelled_names(source) == [(1, "index.sqlite3"), (2, "thumbnails/")]


def test_the_site_lays_out_one_directory(tmp_path: Path) -> None:
    files = Site(tmp_path / "data")
    paths = [
        files.recordings, files.quarantine, files.clips, files.thumbnails, files.secrets,
        files.index_db, files.site_db, files.events_db, files.secret(site.VAPID_KEY),
    ]  # fmt: skip
    assert len(set(paths)) == len(paths)
    assert all(p.is_relative_to(files.data_dir) for p in paths)
    assert files.secret(site.VAPID_KEY).parent == files.secrets
    assert not files.data_dir.exists()  # naming touches nothing
    files.create()
    assert files.recordings.is_dir() and (files.data_dir.stat().st_mode & 0o777) == 0o700
