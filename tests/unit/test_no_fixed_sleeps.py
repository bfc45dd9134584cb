"""No test sleeps a fixed time to let something happen: it waits for the fact (tests/waiting.py).

A sleep inside a loop is taken for a poll's step (the loop checks a condition against a
deadline each round). A sleep anywhere else must be the scenario itself (the camera sends
motion for 1.5 s; a recorder records for a minute and the test measures that minute) and be
listed below with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# (file under tests/, the sleep's argument as written) -> why the duration is the scenario.
SCENARIO_SLEEPS = {
    ("e2e/test_recorder_cameras.py", "RECORD_S"): (
        "the recorder records for RECORD_S; the tests measure how much of that uptime the "
        "segments cover"
    ),
    ("e2e/test_recorder_crash.py", "SEGMENT_S / 2"): "the kill lands in the middle of a segment",
    ("motion/test_motion_sim.py", "RUN_S"): (
        "the simulated scene plays for RUN_S; detection is compared with its ground truth"
    ),
    ("onvif/test_events.py", "1.5"): "the camera reports motion for 1.5 s, then calm",
}


def _is_sleep(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        named = isinstance(func.value, ast.Name) and func.value.id in ("time", "asyncio")
        return func.attr == "sleep" and named
    return isinstance(func, ast.Name) and func.id == "sleep"


def fixed_sleeps(source: str, *, polls_too: bool = False) -> list[tuple[int, str]]:
    """(line, argument) of each sleep in `source` that is not a poll's step (unless
    `polls_too`) nor `sleep(0)` (which only yields to the event loop)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_sleep(node) and node.args):
            continue
        argument = ast.unparse(node.args[0])
        if argument in ("0", "0.0"):
            continue
        ancestor: ast.AST = node
        while ancestor in parents and not polls_too:
            ancestor = parents[ancestor]
            if isinstance(ancestor, ast.While | ast.For | ast.AsyncFor):
                break  # a poll's step
            function = ast.FunctionDef | ast.AsyncFunctionDef
            if isinstance(ancestor, function) and ancestor.name == "sleep":
                break  # a test clock's own sleep
        else:
            found.append((node.lineno, argument))
    return sorted(found)


def test_no_test_sleeps_a_fixed_time() -> None:
    offenders = []
    used = set()
    for path in sorted(TESTS.rglob("*.py")):
        name = path.relative_to(TESTS).as_posix()
        for line, argument in fixed_sleeps(path.read_text()):
            if (name, argument) in SCENARIO_SLEEPS:
                used.add((name, argument))
            else:
                offenders.append(f"{name}:{line}: sleep({argument})")
    assert offenders == [], "wait for the fact instead (tests/waiting.py)"
    assert used == set(SCENARIO_SLEEPS), "remove the entries no sleep uses any more"


def test_the_check_tells_a_fixed_sleep_from_a_poll() -> None:
    source = """
import asyncio, time
from time import sleep

async def test():
    await asyncio.sleep(1.5)
    while not done():
        await asyncio.sleep(0.05)
    for _ in range(3):
        time.sleep(0.2)
    await asyncio.sleep(0)
    sleep(2)
    clock.sleep(5)

class WaitingClock:
    async def sleep(self, seconds):
        await asyncio.sleep(seconds)
"""
    assert fixed_sleeps(source) == [(6, "1.5"), (12, "2")]
