"""Onboarding: ask an ONVIF camera what it is and where its streams are.

`probe_device` returns manufacturer, model, serial, the media profiles and the main and sub
stream URIs, plus whether the device offers PTZ and motion events. `camera_settings` turns that
into a `[[cameras]]` entry, so a discovered camera is added in one step with its credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from recorder.errors import OnvifUnsupported
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.device import DeviceInfo, MediaProfile, OnvifDevice, ZeepOnvifDevice
from recorder.onvif.rtsp_urls import strip_credentials

RECORDABLE = ("H264", "H265", "HEVC")


@dataclass(frozen=True)
class DeviceDescription:
    host: str
    port: int
    info: DeviceInfo
    profiles: tuple[MediaProfile, ...]
    main_uri: str
    sub_uri: str | None
    main_profile: str
    sub_profile: str | None
    ptz: bool
    events: bool

    def camera_settings(
        self,
        camera_id: str,
        *,
        name: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        """A `[[cameras]]` entry (validate it with `CameraConfig.model_validate`)."""
        settings: dict[str, Any] = {
            "id": camera_id,
            "name": name or f"{self.info.manufacturer} {self.info.model}".strip() or camera_id,
            "main_url": self.main_uri,
            "motion": {"source": "both" if self.events else "software"},
        }
        if self.port != 80 or urlsplit(self.main_uri).hostname != self.host:
            settings["onvif"] = {"host": self.host, "port": self.port}  # not the defaults
        if self.sub_uri:
            settings["sub_url"] = self.sub_uri
        if username:
            settings["username"] = username
        if password:
            settings["password"] = password
        return settings

    def to_public(self) -> dict[str, Any]:
        """JSON-ready (for `skycam discover --json` and the API)."""
        return {
            "host": self.host,
            "port": self.port,
            "manufacturer": self.info.manufacturer,
            "model": self.info.model,
            "serial": self.info.serial,
            "firmware": self.info.firmware,
            "profiles": [
                {
                    "token": p.token,
                    "name": p.name,
                    "encoding": p.encoding,
                    "width": p.width,
                    "height": p.height,
                    "fps": p.fps,
                }
                for p in self.profiles
            ],
            "main_url": self.main_uri,
            "sub_url": self.sub_uri,
            "ptz": self.ptz,
            "events": self.events,
        }


def choose_streams(profiles: Sequence[MediaProfile]) -> tuple[MediaProfile, MediaProfile | None]:
    """Main: the largest H.264/H.265 profile; sub: the smallest other one of a smaller size.
    Raises OnvifUnsupported when no profile is recordable."""
    usable = [p for p in profiles if p.encoding.upper() in RECORDABLE]
    if not usable:
        found = ", ".join(sorted({p.encoding or "none" for p in profiles})) or "no profiles"
        raise OnvifUnsupported(f"no H.264/H.265 media profile (found: {found})")
    ranked = sorted(usable, key=lambda p: (p.width * p.height, p.encoding.upper() == "H264"))
    main = ranked[-1]
    smaller = [p for p in ranked if p.width * p.height < main.width * main.height]
    # The sub stream is decoded for motion: prefer H.264 (cheaper), then the smallest.
    smaller.sort(key=lambda p: (p.encoding.upper() != "H264", p.width * p.height))
    return main, (smaller[0] if smaller else None)


async def probe_device(
    endpoint: OnvifEndpoint,
    make_device: Callable[[OnvifEndpoint], OnvifDevice] = ZeepOnvifDevice,
) -> DeviceDescription:
    """Connect with the given credentials and describe the camera; raises OnvifError (and
    OnvifAuthError when the credentials are refused)."""
    device = make_device(endpoint)
    await device.connect()
    try:
        info = await device.device_info()
        profiles = await device.profiles()
        main, sub = choose_streams(profiles)
        main_uri = strip_credentials(await device.stream_uri(main.token))
        sub_uri = strip_credentials(await device.stream_uri(sub.token)) if sub else None
        return DeviceDescription(
            host=endpoint.host,
            port=endpoint.port,
            info=info,
            profiles=tuple(profiles),
            main_uri=main_uri,
            sub_uri=sub_uri,
            main_profile=main.token,
            sub_profile=sub.token if sub else None,
            ptz=device.supports("ptz") and any(p.ptz for p in profiles),
            events=device.supports("events"),
        )
    finally:
        await device.close()
