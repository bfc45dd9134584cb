"""One camera's events from its sources: merge, cooldown, split. Pure."""

from __future__ import annotations

from recorder.motion.activity import ActivityEnded, ActivityImproved, ActivityStarted, Sighting
from recorder.motion.lifecycle import ChangeKind, EventChange, EventLifecycle


def started(at: float, score: float = 0.01, zones: tuple[str, ...] = ()) -> ActivityStarted:
    return ActivityStarted(at, Sighting(at, score, zones=zones), zones)


def ended(at: float) -> ActivityEnded:
    return ActivityEnded(at, Sighting(at), ())


def kinds(changes: list[EventChange]) -> list[ChangeKind]:
    return [c.kind for c in changes]


def test_one_source_opens_and_closes_an_event() -> None:
    life = EventLifecycle(cooldown_s=10)
    [opened] = life.on_signal("software", started(100.0))
    assert opened.kind is ChangeKind.OPENED and opened.state.start == 100.0
    assert opened.best_changed
    [closed] = life.on_signal("software", ended(104.0))
    assert closed.kind is ChangeKind.CLOSED and closed.state.end == 104.0
    assert closed.state.key == opened.state.key


def test_a_second_source_joins_and_the_event_ends_with_the_last() -> None:
    life = EventLifecycle()
    life.on_signal("software", started(100.0, score=0.02))
    [joined] = life.on_signal("onvif", started(100.5, score=0.0))
    assert joined.kind is ChangeKind.UPDATED
    assert joined.state.sources == {"software", "onvif"}
    assert not joined.best_changed  # the software sighting stays the best
    assert life.on_signal("software", ended(103.0)) == []  # onvif still active
    [closed] = life.on_signal("onvif", ended(106.0))
    assert closed.state.end == 106.0


def test_motion_within_the_cooldown_reopens_the_previous_event() -> None:
    life = EventLifecycle(cooldown_s=10)
    first = life.on_signal("software", started(100.0))[0].state.key
    life.on_signal("software", ended(104.0))
    [again] = life.on_signal("software", started(110.0))
    assert again.kind is ChangeKind.REOPENED and again.state.key == first
    assert again.state.end is None and again.state.start == 100.0
    life.on_signal("software", ended(112.0))
    [later] = life.on_signal("software", started(123.0))  # 11 s after: a new event
    assert later.kind is ChangeKind.OPENED and later.state.key != first


def test_a_better_sighting_updates_the_event_and_a_picture_beats_none() -> None:
    life = EventLifecycle()
    life.on_signal("onvif", started(100.0, score=0.0))
    [pictured] = life.on_signal("onvif", ActivityImproved(Sighting(100.2, frame="jpg"), ()))
    assert pictured.best_changed and pictured.state.best.frame == "jpg"
    [bigger] = life.on_signal("onvif", ActivityImproved(Sighting(101, 0.05, zones=("a",)), ("a",)))
    assert bigger.best_changed and bigger.state.zones == ("a",)
    assert life.on_signal("onvif", ActivityImproved(Sighting(102, 0.01), ())) == []


def test_improvements_from_an_inactive_source_are_ignored() -> None:
    life = EventLifecycle()
    assert life.on_signal("software", ActivityImproved(Sighting(1.0, 0.5), ())) == []


def test_a_long_event_is_split_and_continued() -> None:
    life = EventLifecycle(max_event_s=60)
    first = life.on_signal("software", started(100.0, score=0.03))[0].state
    assert life.tick(159.0) == []
    closed, opened = life.tick(160.0)
    assert closed.kind is ChangeKind.CLOSED and closed.state.key == first.key
    assert closed.state.end == 160.0
    assert opened.kind is ChangeKind.OPENED and opened.state.start == 160.0
    assert opened.state.key != first.key and opened.state.best == first.best
    # The continuation is not merged back into the first by the cooldown.
    [end] = life.on_signal("software", ended(170.0))
    assert end.state.key == opened.state.key
    assert kinds(life.on_signal("software", started(171.0))) == [ChangeKind.REOPENED]
