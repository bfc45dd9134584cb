"""ONVIF motion events as a motion source: PullPoint subscription in, activity signals out.

`run_once` connects, subscribes (onvif-zeep-async renews the subscription in the background at
80 % of its term) and long-polls PullMessages. Motion notifications set a per-sensor state; the
camera is "moving" while any sensor says so, and the same hysteresis as software detection
(`ActivityTracker`, one sample to start, `end_after_s` of calm to end) turns that into
activity. When an activity starts, a snapshot is fetched (best effort) for the thumbnail.
`run` keeps it going with full-jitter backoff; a device without events stops the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import cv2
import numpy as np
from cv2.typing import MatLike

from recorder.clock import Clock
from recorder.errors import OnvifError, OnvifUnsupported, RecorderError
from recorder.motion.activity import ActivityImproved, ActivityTracker, Sighting, Signal
from recorder.onvif.device import EventSubscription, OnvifDevice
from recorder.onvif.notifications import motion_state
from recorder.reconnect import Reconnector

log = logging.getLogger(__name__)

SOURCE = "onvif"
HEALTHY_SESSION_S = 30.0


class OnvifMotionSource:
    def __init__(
        self,
        camera_id: str,
        make_device: Callable[[], OnvifDevice],
        emit: Callable[[Signal], None],
        clock: Clock,
        *,
        end_after_s: float = 5.0,
        pull_timeout_s: float = 2.0,
        backoff_cap_s: float = 60.0,
        snapshots: bool = True,
    ) -> None:
        self.camera_id = camera_id
        self._make_device = make_device
        self._emit = emit
        self._clock = clock
        self._end_after_s = end_after_s
        self._pull_timeout_s = pull_timeout_s
        self._reconnector = Reconnector(
            clock,
            self._log,
            backoff_cap_s=backoff_cap_s,
            backoff_multiplier_s=1.0,
            healthy_s=HEALTHY_SESSION_S,
            give_up=(OnvifUnsupported,),
        )
        self._snapshots = snapshots
        self.subscriptions = 0
        self.notifications = 0
        self.last_error = ""

    async def run(self, shutdown: asyncio.Event) -> None:
        """Until shutdown; returns early if the camera offers no events."""
        try:
            await self._reconnector.run(shutdown, self.run_once)
        except OnvifUnsupported as exc:
            # A camera without events will not grow them: stop rather than retry.
            log.warning("%s: no ONVIF motion events (%s)", self.camera_id, exc)
            self.last_error = str(exc)

    async def run_once(self, shutdown: asyncio.Event) -> None:
        """One subscription until shutdown (returns) or failure (raises)."""
        tracker = ActivityTracker(start_frames=1, end_after_s=self._end_after_s)
        device = self._make_device()
        try:
            await device.connect()
            subscription = await device.subscribe()
            self.subscriptions += 1
            snapshot_profile = await self._snapshot_profile(device)
            try:
                await self._pull_loop(device, subscription, tracker, snapshot_profile, shutdown)
            finally:
                with contextlib.suppress(OnvifError):
                    await subscription.close()
        finally:
            for signal in tracker.close():
                self._emit(signal)
            await device.close()

    async def _pull_loop(
        self,
        device: OnvifDevice,
        subscription: EventSubscription,
        tracker: ActivityTracker,
        snapshot_profile: str | None,
        shutdown: asyncio.Event,
    ) -> None:
        states: dict[str, bool] = {}
        while not shutdown.is_set():
            pulled = asyncio.ensure_future(subscription.pull(self._pull_timeout_s))
            stopper = asyncio.ensure_future(shutdown.wait())
            try:
                await asyncio.wait([pulled, stopper], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
            if not pulled.done():
                pulled.cancel()
                with contextlib.suppress(asyncio.CancelledError, OnvifError):
                    await pulled
                return
            notifications = pulled.result()
            now = self._clock.now()
            was_moving = any(states.values())
            if was_moving:
                # Motion went on at least until this answer, whatever it says next.
                for signal in tracker.feed(now, Sighting(now)):
                    self._emit(signal)
            for notification in notifications:
                state = motion_state(notification)
                if state is not None:
                    self.notifications += 1
                    states[notification.source_key] = state
            moving = any(states.values())
            was_active = tracker.active
            if (moving and not was_moving) or not moving:
                for signal in tracker.feed(now, Sighting(now) if moving else None):
                    self._emit(signal)
            if tracker.active and not was_active and snapshot_profile is not None:
                await self._snapshot(device, snapshot_profile, now)

    async def _snapshot_profile(self, device: OnvifDevice) -> str | None:
        if not self._snapshots:
            return None
        try:
            profiles = await device.profiles()
        except OnvifError:
            return None
        return profiles[0].token if profiles else None

    async def _snapshot(self, device: OnvifDevice, profile: str, at: float) -> None:
        """A picture for the thumbnail: emitted as a better sighting (a picture beats none)."""
        try:
            data = await device.snapshot(profile)
        except OnvifError as exc:
            log.debug("%s: no snapshot: %s", self.camera_id, exc)
            return
        if not data:
            return
        image = await asyncio.to_thread(_decode_jpeg, data)
        if image is not None:
            self._emit(ActivityImproved(Sighting(at, frame=image), ()))

    def _log(self, exc: BaseException) -> None:
        self.last_error = str(exc)
        if isinstance(exc, RecorderError):
            log.warning("%s: ONVIF events: %s; subscribing again", self.camera_id, exc)
        else:
            log.error("%s: ONVIF events failed; subscribing again", self.camera_id, exc_info=exc)


def _decode_jpeg(data: bytes) -> MatLike | None:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None
