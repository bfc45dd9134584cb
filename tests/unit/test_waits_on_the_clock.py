"""The recorder waits on its `Clock` (`clock.sleep`, `recorder.clock.pause`), never on the real
time directly, so a test steps every wait (`SteppedClock`) instead of sleeping through it."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_no_fixed_sleeps import fixed_sleeps

RECORDER = Path(__file__).resolve().parents[2] / "recorder"

# Modules that may sleep on the real time, and why.
REAL_TIME = {
    "clock.py": "the clocks themselves",
    "capture/replay.py": "replays a file at a camera's pace (a test and bench stand-in)",
}


def real_sleeps(source: str) -> list[int]:
    """Lines of `source` calling `time.sleep` or `asyncio.sleep` with a time (not 0), in a
    loop or not: in the recorder every one is a wait that should be on the clock."""
    return [line for line, _ in fixed_sleeps(source, polls_too=True)]


def test_the_recorder_sleeps_only_on_its_clock() -> None:
    offenders = [
        f"recorder/{name}:{line}"
        for path in sorted(RECORDER.rglob("*.py"))
        for name in [path.relative_to(RECORDER).as_posix()]
        if name not in REAL_TIME
        for line in real_sleeps(path.read_text())
    ]
    assert offenders == [], "wait with clock.sleep or recorder.clock.pause"


def test_the_check_sees_a_sleep_in_a_loop() -> None:
    source = "async def f(clock):\n    while True:\n        await asyncio.sleep(1)\n"
    assert real_sleeps(source) == [3]
    assert real_sleeps(source.replace("asyncio.sleep(1)", "clock.sleep(1)")) == []
