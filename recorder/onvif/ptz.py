"""Pan, tilt and zoom through ONVIF: continuous move, stop, presets.

`PtzControl` picks the first media profile with a PTZ configuration and clamps velocities to
ONVIF's generic space (-1..1). `ptz_session(endpoint)` connects for one short exchange, which is
what an API request needs (about 0.1 s on a LAN once the WSDLs are loaded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from recorder.errors import OnvifUnsupported
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.device import OnvifDevice, Preset, ZeepOnvifDevice

MAX_MOVE_S = 60.0


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
        known = {p.token for p in await self.presets()}
        if preset_token not in known:
            raise OnvifUnsupported(f"no preset {preset_token!r} on this camera")
        await self._device.ptz_goto(await self.profile_token(), preset_token)


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
