"""Applies event changes: rows in the event store, protections in the segment index, thumbnail
files, and notices on the bus. The thin, I/O side of lifecycle.py.

Protections follow the event so that its footage is never unprotected, even in "motion only"
recording, where retention deletes whatever no protection covers:
- while open, a *provisional* protection covers [start - pre_roll, start + max_event + post_roll),
  the longest the event can become;
- at the end it is replaced by the exact range [start - pre_roll, end + post_roll), kept for
  `events.retention_days`. The new protection is added before the old one is removed.
A crash leaves the provisional protection in place; `recover` closes such events at their last
recorded motion and keeps it (a few minutes too many protected, never too few).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from recorder.clock import Clock
from recorder.errors import RecorderError
from recorder.motion.activity import Signal
from recorder.motion.bus import EventBus
from recorder.motion.config import EventsConfig, MotionConfig
from recorder.motion.lifecycle import ChangeKind, EventChange, EventLifecycle, EventState
from recorder.motion.model import EventNotice, EventSource, MotionEvent, NoticeKind
from recorder.motion.store import EventStore
from recorder.motion.thumbnails import ThumbnailStore, encode_thumbnail, frame_to_bgr
from recorder.storage.index import SegmentIndex
from recorder.storage.model import YIELDING_PROTECTION_PREFIX, Protection

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
PROTECTION_REASON = YIELDING_PROTECTION_PREFIX  # + the event id: yields to space
UPDATE_INTERVAL_S = 2.0  # an open event's row and notice change at most this often
TOUCH_INTERVAL_S = 10.0  # and at least this often (so a crash loses little of its end)


@dataclass(frozen=True)
class ExternalReport:
    """What another device says happened, checked by the caller (recorder/integrations)."""

    camera_id: str
    kind: str
    label: str
    confidence: float  # 0..1, stored as the event's score
    at_ms: int
    jpeg: bytes | None = None  # a picture to show as the thumbnail, already checked as JPEG


@dataclass
class _Tracked:
    event: MotionEvent
    state: EventState
    dirty: bool = False
    new_best: bool = False
    flushed_at: float = 0.0


@dataclass
class _Camera:
    lifecycle: EventLifecycle
    max_event_s: float
    tracked: dict[int, _Tracked] = field(default_factory=dict)  # lifecycle key -> event
    closed: _Tracked | None = None  # the last closed event: the cooldown may reopen it


class EventWriter:
    def __init__(
        self,
        *,
        store: EventStore,
        index: SegmentIndex,
        thumbnails: ThumbnailStore,
        bus: EventBus,
        events: EventsConfig,
        motion: Mapping[str, MotionConfig],
        clock: Clock,
    ) -> None:
        self._store = store
        self._index = index
        self._thumbnails = thumbnails
        self._bus = bus
        self._config = events
        self._clock = clock
        self._cameras = {
            camera_id: _Camera(
                EventLifecycle(cooldown_s=cfg.cooldown_s, max_event_s=cfg.max_event_s),
                cfg.max_event_s,
            )
            for camera_id, cfg in motion.items()
        }

    def configure(self, camera_id: str, motion: MotionConfig) -> None:
        """Add a camera, or change its settings (an event in progress keeps its state)."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            self._cameras[camera_id] = _Camera(
                EventLifecycle(cooldown_s=motion.cooldown_s, max_event_s=motion.max_event_s),
                motion.max_event_s,
            )
            return
        camera.lifecycle.cooldown_s = motion.cooldown_s
        camera.lifecycle.max_event_s = motion.max_event_s
        camera.max_event_s = motion.max_event_s

    async def recover(self) -> int:
        """Close events a crash left open; return how many."""
        count = 0
        for event in await self._store.open_events():
            end_ms = max(event.last_motion_ms, event.updated_ms, event.start_ms)
            closed = replace(
                event,
                end_ms=end_ms,
                record_end_ms=end_ms + self._post_ms,
                updated_ms=self._now_ms(),
            )
            await self._store.update(closed)
            count += 1
        if count:
            log.info("closed %d event(s) left open by an unclean stop", count)
        return count

    async def handle(self, camera_id: str, source: str, signal: Signal) -> None:
        """One activity signal of one source of one camera."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            return
        for change in camera.lifecycle.on_signal(source, signal):
            await self._apply(camera_id, camera, change)

    @property
    def busy(self) -> bool:
        """An event is open somewhere: `tick` has work (a split, or updates to write)."""
        return any(c.tracked or c.lifecycle.open_event for c in self._cameras.values())

    async def tick(self) -> None:
        """Split over-long events; write pending updates. Call about once a second."""
        now = self._clock.now()
        for camera_id, camera in self._cameras.items():
            for change in camera.lifecycle.tick(now):
                await self._apply(camera_id, camera, change)
            for tracked in list(camera.tracked.values()):
                due = now - tracked.flushed_at
                if (tracked.dirty and due >= UPDATE_INTERVAL_S) or due >= TOUCH_INTERVAL_S:
                    await self._flush(tracked, publish=tracked.dirty)

    async def _apply(self, camera_id: str, camera: _Camera, change: EventChange) -> None:
        try:
            if change.kind is ChangeKind.OPENED:
                await self._open(camera_id, camera, change)
            elif change.kind is ChangeKind.CLOSED:
                await self._close(camera, change)
            else:
                await self._update(camera, change)
        except RecorderError:
            # Storage trouble must not stop detection; the next change tries again.
            log.exception("%s: cannot record event change %s", camera_id, change.kind.value)

    async def _open(self, camera_id: str, camera: _Camera, change: EventChange) -> None:
        state = change.state
        now_ms = self._now_ms()
        start_ms = _ms(state.start)
        event = await self._store.insert(
            MotionEvent(
                id=0,
                camera_id=camera_id,
                source=EventSource.of(state.sources),
                start_ms=start_ms,
                end_ms=None,
                score=state.best.score,
                zones=state.zones,
                box=state.best.box,
                thumbnail=None,
                record_start_ms=start_ms - self._pre_ms,
                record_end_ms=None,
                updated_ms=now_ms,
                last_motion_ms=_ms(state.last_motion),
            )
        )
        tracked = _Tracked(event, state, new_best=True, flushed_at=self._clock.now())
        camera.tracked[state.key] = tracked
        await self._protect(tracked, self._provisional_end(camera, tracked))
        await self._write_thumbnail(tracked)
        await self._store.update(tracked.event)
        self._bus.publish(EventNotice(NoticeKind.START, tracked.event))

    async def _update(self, camera: _Camera, change: EventChange) -> None:
        key = change.state.key
        tracked = camera.tracked.get(key)
        if tracked is None and camera.closed is not None and camera.closed.state.key == key:
            tracked, camera.closed = camera.closed, None
            camera.tracked[key] = tracked
        if tracked is None:
            return
        tracked.state = change.state
        tracked.dirty = True
        tracked.new_best = tracked.new_best or change.best_changed
        if change.kind is ChangeKind.REOPENED:
            tracked.event = replace(tracked.event, end_ms=None, record_end_ms=None)
            await self._protect(tracked, self._provisional_end(camera, tracked))
            await self._flush(tracked, publish=True)
        elif self._clock.now() - tracked.flushed_at >= UPDATE_INTERVAL_S:
            await self._flush(tracked, publish=True)

    async def _close(self, camera: _Camera, change: EventChange) -> None:
        tracked = camera.tracked.pop(change.state.key, None)
        if tracked is None:
            return
        camera.closed = tracked
        state = change.state
        end_ms = max(_ms(state.end if state.end is not None else state.last_motion), 0)
        end_ms = max(end_ms, tracked.event.start_ms)
        tracked.state = state
        tracked.event = replace(tracked.event, end_ms=end_ms, record_end_ms=end_ms + self._post_ms)
        await self._protect(tracked, end_ms + self._post_ms)
        await self._flush(tracked, publish=False)
        self._bus.publish(EventNotice(NoticeKind.END, tracked.event))

    async def _flush(self, tracked: _Tracked, *, publish: bool) -> None:
        state = tracked.state
        tracked.event = replace(
            tracked.event,
            source=EventSource.of(state.sources),
            score=max(state.best.score, tracked.event.score),
            zones=state.zones,
            box=state.best.box if state.best.box is not None else tracked.event.box,
            last_motion_ms=_ms(state.last_motion),
            updated_ms=self._now_ms(),
        )
        await self._write_thumbnail(tracked)
        await self._store.update(tracked.event)
        tracked.dirty = False
        tracked.flushed_at = self._clock.now()
        if publish:
            self._bus.publish(EventNotice(NoticeKind.UPDATE, tracked.event))

    async def _protect(self, tracked: _Tracked, until_ms: int) -> None:
        tracked.event = await self._protected(tracked.event, until_ms)

    async def _protected(self, event: MotionEvent, until_ms: int) -> MotionEvent:
        """Cover the event's range up to `until_ms`: add the new protection, then drop the old."""
        expires = max(until_ms, self._now_ms()) + round(self._config.retention_days * DAY_MS)
        protection = await self._index.add_protection(
            Protection(
                camera_id=event.camera_id,
                start_ms=event.record_start_ms,
                end_ms=max(until_ms, event.record_start_ms + 1),
                reason=f"{PROTECTION_REASON}{event.id}",
                expires_ms=expires,
            )
        )
        if event.protection_id is not None:
            await self._index.remove_protection(event.protection_id)
        return replace(event, protection_id=protection.id)

    async def _write_thumbnail(self, tracked: _Tracked) -> None:
        best = tracked.state.best
        if not tracked.new_best or best.frame is None:
            return
        tracked.new_best = False
        event = tracked.event
        relative = self._thumbnails.relative_path(event.camera_id, event.id, event.start_ms)
        max_bytes = self._config.thumbnail_max_bytes

        def work() -> None:
            jpeg = encode_thumbnail(frame_to_bgr(best.frame), best.box, max_bytes=max_bytes)
            self._thumbnails.write(relative, jpeg)

        try:
            await asyncio.to_thread(work)
        except (OSError, ValueError) as exc:
            log.warning(
                "%s: cannot write thumbnail of event %d: %s", event.camera_id, event.id, exc
            )
            return
        tracked.event = replace(event, thumbnail=relative)

    async def add_external(self, report: ExternalReport) -> MotionEvent:
        """An event another device reported (a doorbell ring, an alarm zone, a read plate): an
        instant, stored, protected and announced exactly as a motion event that has ended."""
        at_ms = report.at_ms
        event = await self._store.insert(
            MotionEvent(
                id=0,
                camera_id=report.camera_id,
                source=EventSource.EXTERNAL,
                start_ms=at_ms,
                end_ms=at_ms,
                score=report.confidence,
                zones=(),
                box=None,
                thumbnail=None,
                record_start_ms=at_ms - self._pre_ms,
                record_end_ms=at_ms + self._post_ms,
                updated_ms=self._now_ms(),
                last_motion_ms=at_ms,
                kind=report.kind,
                label=report.label,
            )
        )
        event = await self._protected(event, at_ms + self._post_ms)
        if report.jpeg is not None:
            relative = self._thumbnails.relative_path(event.camera_id, event.id, event.start_ms)
            try:
                await asyncio.to_thread(self._thumbnails.write, relative, report.jpeg)
                event = replace(event, thumbnail=relative)
            except OSError as exc:
                log.warning(
                    "%s: cannot write picture of event %d: %s", event.camera_id, event.id, exc
                )
        await self._store.update(event)
        self._bus.publish(EventNotice(NoticeKind.START, event))
        self._bus.publish(EventNotice(NoticeKind.END, event))
        return event

    def _provisional_end(self, camera: _Camera, tracked: _Tracked) -> int:
        longest = round(camera.max_event_s * 1000)
        return max(tracked.event.start_ms + longest, self._now_ms()) + self._post_ms

    @property
    def _pre_ms(self) -> int:
        return round(self._config.pre_roll_s * 1000)

    @property
    def _post_ms(self) -> int:
        return round(self._config.post_roll_s * 1000)

    def _now_ms(self) -> int:
        return _ms(self._clock.now())


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
