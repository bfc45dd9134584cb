"""No test patches the project's own code: fakes go in through Protocols and constructors.

What it checks: every `monkeypatch.setattr/delattr`, `mock.patch(...)`, `mock.patch.object(...)`
(however `patch` was imported) in tests/ whose target is a name imported from a project package
(recorder, sim, cloud, skycam), an attribute of one, or a dotted string naming one. Patching the
standard library or third-party code (uvicorn, os, time) is not flagged; neither is assigning
to an instance's attribute (`obj.method = fake`), which it cannot tell from ordinary setup."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PROJECT = ("recorder", "sim", "cloud", "skycam")
PATCHERS = {"setattr", "delattr"}  # on monkeypatch
PATCH_FUNCS = {"patch", "object"}  # mock.patch(...), mock.patch.object(...)


def _is_project(module: str) -> bool:
    return module.split(".")[0] in PROJECT


def _project_names(tree: ast.Module) -> set[str]:
    """Names a test module binds to project modules, classes or functions."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _is_project(node.module):
                names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_project(alias.name):
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_patch_call(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in PATCHERS:
        return _root(func.value) == "monkeypatch"
    if isinstance(func, ast.Attribute) and func.attr in PATCH_FUNCS:
        return (
            func.attr == "patch"
            or (isinstance(func.value, ast.Attribute) and func.value.attr == "patch")
            or (isinstance(func.value, ast.Name) and func.value.id == "patch")
        )
    return isinstance(func, ast.Name) and func.id == "patch"


def self_patches(source: str) -> list[int]:
    """Lines of `source` that patch project code."""
    tree = ast.parse(source)
    project = _project_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_patch_call(node) or not node.args:
            continue
        target = node.args[0]
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            hit = _is_project(target.value)
        else:
            hit = _root(target) in project
        if hit:
            found.append(node.lineno)
    return found


def test_no_test_patches_the_projects_own_code() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in self_patches(path.read_text())
    ]
    assert offenders == [], "inject a fake through a Protocol or constructor instead"


def test_the_check_sees_each_way_of_patching() -> None:
    source = """
from unittest import mock
from unittest.mock import patch
import recorder.media.live
from recorder.cameras import fleet as fleet_module
from recorder.motion.writer import EventWriter
import uvicorn

def test(monkeypatch):
    monkeypatch.setattr(fleet_module, "LIVE_IDLE_CHECK_S", 0.1)
    monkeypatch.setattr(EventWriter, "tick", None)
    monkeypatch.setattr("recorder.clock.time.time", None)
    monkeypatch.delattr(recorder.media.live.LiveStream, "start")
    mock.patch("sim.gst_server.WallClockFeeder")
    patch.object(EventWriter, "tick")
    mock.patch.object(fleet_module.CameraFleet, "stop")
    monkeypatch.setattr(uvicorn.Server, "on_tick", None)
    monkeypatch.setattr("os.getpid", None)
    mock.patch("time.time")
"""
    assert self_patches(source) == [10, 11, 12, 13, 14, 15, 16]
