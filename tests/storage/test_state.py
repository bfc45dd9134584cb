from __future__ import annotations

import pytest

from recorder.errors import StorageFull
from recorder.storage.state import AlertKind, StorageAlert, StorageState


def alert(kind: AlertKind, level: int = 95, in_force: int = 95) -> StorageAlert:
    return StorageAlert(kind, level, in_force, 96.0, f"{kind.value}", 0)


def test_breaker_controls_writability() -> None:
    state = StorageState()
    assert state.writable
    state.check_writable()
    state.publish(alert(AlertKind.BREAKER_OPENED))
    assert not state.writable
    with pytest.raises(StorageFull, match="paused"):
        state.check_writable()
    state.publish(alert(AlertKind.BREAKER_CLOSED))
    assert state.writable


def test_subscribers_get_alerts_and_slow_ones_lose_the_oldest() -> None:
    state = StorageState()
    fast, slow = state.subscribe(), state.subscribe(maxsize=2)
    for level in (80, 90, 95):
        state.publish(alert(AlertKind.RAISED, level, level))
    assert [fast.get_nowait().level for _ in range(3)] == [80, 90, 95]
    assert [slow.get_nowait().level for _ in range(2)] == [90, 95]
    assert state.alarm_level == 95
    state.unsubscribe(fast)
    state.publish(alert(AlertKind.CLEARED, 95, 0))
    assert fast.empty() and state.alarm_level == 0


def test_a_failing_listener_does_not_break_the_others() -> None:
    state = StorageState()
    seen: list[AlertKind] = []

    def broken(_: StorageAlert) -> None:
        raise RuntimeError("boom")

    state.add_listener(broken)
    state.add_listener(lambda a: seen.append(a.kind))
    state.publish(alert(AlertKind.RAISED))
    assert seen == [AlertKind.RAISED]
