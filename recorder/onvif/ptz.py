"""Pan, tilt and zoom through ONVIF: continuous move, stop, click-to-centre, presets.

`PtzControl` picks the first media profile with a PTZ configuration and clamps velocities to
ONVIF's generic space (-1..1). `ptz_session(endpoint)` connects for one short exchange, which is
what an API request needs (about 0.1 s on a LAN once the WSDLs are loaded).

Click-to-centre turns a point of the picture into angles through the field of view (a pinhole:
the angle of a point at a fraction `d` of the half-width is atan(d * tan(hfov / 2))), then into
ONVIF's generic relative space, which spans each axis's full range: a translation of 1 is half
the range. Cameras without a relative space get a short continuous move toward the point.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from recorder.errors import OnvifRefused, OnvifUnsupported
from recorder.onvif.config import FieldOfView, OnvifEndpoint
from recorder.onvif.device import OnvifDevice, Preset, PtzStatus, ZeepOnvifDevice

MAX_MOVE_S = 60.0
# The fallback for cameras without RelativeMove: a move toward the point this long, at a speed
# proportional to its distance from the centre (the camera's speed in degrees is unknown).
NUDGE_S = 0.5
NUDGE_SPEED = 0.5


@dataclass(frozen=True)
class Centring:
    """What click-to-centre asked of the camera: the generic translation (or velocity)."""

    method: Literal["relative", "continuous"]
    pan: float
    tilt: float


def centring_translation(
    x: float, y: float, aspect: float, view: FieldOfView
) -> tuple[float, float]:
    """The generic relative pan and tilt that bring the picture's point (`x`, `y`: 0..1 from
    the top left) to its centre, for a picture `aspect` (width / height) wide."""
    half_h = math.radians(view.hfov_deg) / 2
    half_v = math.atan(math.tan(half_h) / aspect)
    pan_deg = math.degrees(math.atan((2 * x - 1) * math.tan(half_h)))
    tilt_deg = math.degrees(math.atan((1 - 2 * y) * math.tan(half_v)))
    return _clamp(pan_deg / (view.pan_range_deg / 2)), _clamp(tilt_deg / (view.tilt_range_deg / 2))


class PtzControl:
    def __init__(self, device: OnvifDevice) -> None:
        self._device = device
        self._profile: str | None = None

    async def profile_token(self) -> str:
        if self._profile is None:
            if not self._device.supports("ptz"):
                raise OnvifUnsupported(f"{self._device.endpoint.where}: the camera has no PTZ")
            profiles = await self._device.profiles()
            token = next((p.token for p in profiles if p.ptz), None)
            if token is None:
                raise OnvifUnsupported(
                    f"{self._device.endpoint.where}: no media profile has a PTZ configuration"
                )
            self._profile = token
        return self._profile

    async def move(
        self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, timeout_s: float = 1.0
    ) -> None:
        """Move at the given speeds (-1..1: left/down/out to right/up/in) until `stop` or for
        `timeout_s` (the camera stops by itself, so a lost client cannot leave it turning)."""
        timeout = min(max(timeout_s, 0.1), MAX_MOVE_S)
        await self._device.ptz_move(
            await self.profile_token(), _clamp(pan), _clamp(tilt), _clamp(zoom), timeout
        )

    async def stop(self) -> None:
        await self._device.ptz_stop(await self.profile_token())

    async def presets(self) -> list[Preset]:
        return await self._device.ptz_presets(await self.profile_token())

    async def goto(self, preset_token: str) -> None:
        await self._known(preset_token)
        await self._device.ptz_goto(await self.profile_token(), preset_token)

    async def status(self) -> PtzStatus:
        return await self._device.ptz_status(await self.profile_token())

    async def centre(self, x: float, y: float, aspect: float, view: FieldOfView) -> Centring:
        """Turn so that the picture's point (`x`, `y`) becomes its centre."""
        pan, tilt = centring_translation(x, y, aspect, view)
        profile = await self.profile_token()
        try:
            await self._device.ptz_relative(profile, pan, tilt, 0.0)
            return Centring("relative", pan, tilt)
        except OnvifUnsupported:
            pass  # no relative space on this head: nudge toward the point instead
        speed_pan, speed_tilt = _clamp((2 * x - 1) * NUDGE_SPEED), _clamp((1 - 2 * y) * NUDGE_SPEED)
        await self._device.ptz_move(profile, speed_pan, speed_tilt, 0.0, NUDGE_S)
        return Centring("continuous", speed_pan, speed_tilt)

    async def save_preset(self, name: str) -> Preset:
        """Save the current position as a new preset named `name` (names are unique)."""
        if any(p.name == name for p in await self.presets()):
            raise OnvifRefused(f"a preset named {name!r} exists on this camera")
        token = await self._device.ptz_set_preset(await self.profile_token(), name)
        return Preset(token, name)

    async def remove_preset(self, preset_token: str) -> Preset:
        preset = await self._known(preset_token)
        await self._device.ptz_remove_preset(await self.profile_token(), preset_token)
        return preset

    async def _known(self, preset_token: str) -> Preset:
        found = next((p for p in await self.presets() if p.token == preset_token), None)
        if found is None:
            raise OnvifUnsupported(f"no preset {preset_token!r} on this camera")
        return found


@asynccontextmanager
async def ptz_session(
    endpoint: OnvifEndpoint,
    make_device: Callable[[OnvifEndpoint], OnvifDevice] = ZeepOnvifDevice,
) -> AsyncIterator[PtzControl]:
    """`async with ptz_session(endpoint_for(camera)) as ptz: await ptz.move(pan=0.5)`."""
    device = make_device(endpoint)
    await device.connect()
    try:
        yield PtzControl(device)
    finally:
        await device.close()


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, float(value)))
