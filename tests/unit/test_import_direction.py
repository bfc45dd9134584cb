"""The recorder's packages import downwards only: a new upward import or cycle fails here.

Every `import` counts, wherever it is (a function body, a `TYPE_CHECKING` block): a late import
still makes the lower module know the upper one. The layers, low to high, are the architecture
of docs/ARCHITECTURE.md, "Layers"; a module may import its own layer and those below.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "recorder"

# Low to high. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "recorder.errors",
            "recorder.clock",
            "recorder.site",
            "recorder.av_errors",
            "recorder.reconnect",
            "recorder.shared_calls",
        ),
    ),
    # A domain's own settings, which recorder.config assembles into one model.
    (
        "domain settings",
        ("recorder.motion.config", "recorder.onvif.config", "recorder.push.config"),
    ),
    ("config", ("recorder.config",)),
    ("storage", ("recorder.storage",)),
    # The site database's schema (every table of site.sqlite3), then what keeps its data.
    ("site data", ("recorder.site_db", "recorder.accounts")),
    ("capture", ("recorder.capture",)),
    ("media", ("recorder.media",)),
    ("camera services", ("recorder.onvif",)),
    ("motion", ("recorder.motion",)),
    ("cameras", ("recorder.cameras",)),
    ("notifications", ("recorder.push", "recorder.integrations")),
    # The API's two doors: the LAN server and the tunnel, which runs calls through the same app.
    # Remote media rides the tunnel (its relay link, the reference device) and serves the API.
    ("doors", ("recorder.api", "recorder.tunnel", "recorder.remote")),
    ("composition", ("recorder.service", "recorder.cli")),
)

SETTINGS = 1  # the layer of the domains' settings modules

# Capture writes files; what the index, retention and reconciliation do with them is storage's,
# reached only through `SegmentSink` (recorder/capture/sink.py). These are the file-level parts
# of storage capture may use.
CAPTURE_MAY_USE = {
    "recorder.storage.model",  # NewSegment, the plain type handed over
    "recorder.storage.layout",  # where a segment's file goes
    "recorder.storage.durable",  # fsync of files and directories
    "recorder.storage.fmp4",  # checking a finished file
    "recorder.storage.pagecache",  # keeping written video out of the page cache
}

# Package pairs allowed to import each other, with the reason. Keep this empty if you can.
KNOWN_CYCLES = {
    frozenset({"recorder.api", "recorder.tunnel"}): (
        "the tunnel is the API's remote door (it runs calls through the API app and checks "
        "rights with its security module) and the API manages the tunnel (invitations, devices)"
    ),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()
Graph = dict[str, frozenset[str]]


def _imports(module: str, path: Path, modules: dict[str, Path]) -> frozenset[str]:
    """The recorder modules `module` imports (the most precise name that is a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                names.add(child if child in modules else base)
    return frozenset(n for n in names if n.startswith("recorder."))


def _graph(modules: dict[str, Path]) -> Graph:
    return {m: _imports(m, path, modules) for m, path in modules.items() if m != "recorder"}


def _layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _package(module: str) -> str:
    """The package, for cycles; a domain's settings module counts on its own (recorder.config
    assembles them, and the rest of the domain reads the assembled config)."""
    if _layer(module) == SETTINGS:
        return module
    return ".".join(module.split(".")[:2])


def upward_imports(graph: Graph) -> list[str]:
    return [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} ({LAYERS[_layer(imported)][0]})"
        for module in sorted(graph)
        for imported in sorted(graph[module])
        if _layer(imported) > _layer(module)
    ]


def capture_into_storage(graph: Graph) -> list[str]:
    return [
        f"{module} imports {imported}"
        for module in sorted(graph)
        if module.startswith("recorder.capture.")
        for imported in sorted(graph[module])
        if imported.startswith("recorder.storage") and imported not in CAPTURE_MAY_USE
    ]


def package_cycles(graph: Graph) -> list[str]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        for other in imported:
            if _package(other) != _package(module):
                edges[_package(module)].add(_package(other))
    return sorted(
        f"{a} <-> {b}"
        for a in edges
        for b in edges[a]
        if a < b and a in edges.get(b, set()) and frozenset({a, b}) not in KNOWN_CYCLES
    )


GRAPH = _graph(MODULES)


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        _layer(module)


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert upward_imports(GRAPH) == []


def test_capture_reaches_storage_only_through_its_file_parts() -> None:
    assert capture_into_storage(GRAPH) == []


def test_packages_form_no_cycle() -> None:
    assert package_cycles(GRAPH) == []


def test_the_rules_see_a_new_upward_import(tmp_path: Path) -> None:
    # Today's tree passes; the same checks must fail on a module that imports upwards, however
    # it spells the import (absolute, relative, inside a function).
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from recorder.storage.index import SegmentIndex\ndef late():\n    from ..api import app\n"
    )
    modules = {**MODULES, "recorder.capture.planted": planted}
    graph = {
        **GRAPH,
        "recorder.capture.planted": _imports("recorder.capture.planted", planted, modules),
    }
    assert upward_imports(graph) == [
        "recorder.capture.planted (capture) imports recorder.api.app (doors)"
    ]
    assert capture_into_storage(graph) == [
        "recorder.capture.planted imports recorder.storage.index"
    ]
    assert package_cycles(graph) == ["recorder.api <-> recorder.capture"]
