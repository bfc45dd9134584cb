"""The ONVIF boundary: `OnvifDevice` and its adapter over onvif-zeep-async.

The adapter returns plain dataclasses and raises only our errors (`OnvifError` and children):
zeep faults, aiohttp failures and the library's own exceptions never leave this module.
onvif-zeep-async is imported lazily: importing it configures the root logger and loads WSDLs,
which `skycam <other command>` should not pay for.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from recorder.errors import OnvifAuthError, OnvifError, OnvifRefused, OnvifUnsupported
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.notifications import Notification, parse_notification

T = TypeVar("T")

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
PTZ_NS = "http://www.onvif.org/ver20/ptz/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str = ""


@dataclass(frozen=True)
class MediaProfile:
    token: str
    name: str
    encoding: str  # H264, H265, JPEG... ("" when the profile has no video encoder)
    width: int
    height: int
    fps: float | None
    ptz: bool  # the profile has a PTZ configuration


@dataclass(frozen=True)
class Preset:
    token: str
    name: str


@dataclass(frozen=True)
class PtzStatus:
    """Where the head is, in ONVIF's generic spaces (pan, tilt -1..1; zoom 0..1); None where
    the camera does not say."""

    pan: float | None
    tilt: float | None
    zoom: float | None
    moving: bool


class EventSubscription(Protocol):
    async def pull(self, timeout_s: float, limit: int = 100) -> list[Notification]:
        """Wait up to `timeout_s` for notifications; raises OnvifError when the subscription
        is gone (the caller subscribes again)."""

    async def close(self) -> None: ...


class OnvifDevice(Protocol):
    endpoint: OnvifEndpoint

    async def connect(self) -> None:
        """Find the device's services; raises OnvifAuthError on refused credentials."""

    async def close(self) -> None: ...

    def supports(self, service: str) -> bool:
        """ "events", "ptz" or "media": whether the device offers it (after connect)."""

    async def device_info(self) -> DeviceInfo: ...

    async def profiles(self) -> list[MediaProfile]: ...

    async def stream_uri(self, profile_token: str) -> str: ...

    async def snapshot(self, profile_token: str) -> bytes | None: ...

    async def subscribe(self) -> EventSubscription:
        """A PullPoint subscription, renewed in the background until closed."""

    async def ptz_move(self, profile_token: str, pan: float, tilt: float, zoom: float,
                       timeout_s: float | None) -> None: ...  # fmt: skip

    async def ptz_stop(self, profile_token: str) -> None: ...

    async def ptz_presets(self, profile_token: str) -> list[Preset]: ...

    async def ptz_goto(self, profile_token: str, preset_token: str) -> None: ...

    async def ptz_relative(self, profile_token: str, pan: float, tilt: float,
                           zoom: float) -> None:  # fmt: skip
        """Translate by the given amounts in the generic relative spaces (-1..1 is the full
        range of each axis); OnvifUnsupported where the camera has no relative move."""

    async def ptz_status(self, profile_token: str) -> PtzStatus: ...

    async def ptz_set_preset(self, profile_token: str, name: str) -> str:
        """Save the current position as a new preset; its token."""

    async def ptz_remove_preset(self, profile_token: str, preset_token: str) -> None: ...


class ZeepOnvifDevice:
    """`OnvifDevice` over onvif-zeep-async (WS-UsernameToken digest, bundled WSDLs)."""

    def __init__(self, endpoint: OnvifEndpoint, *, subscription_s: float = 60.0) -> None:
        self.endpoint = endpoint
        self._subscription_s = subscription_s
        self._camera: Any = None

    async def __aenter__(self) -> ZeepOnvifDevice:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        from onvif import ONVIFCamera

        if self._camera is not None:
            return
        ep = self.endpoint
        # No credentials: an empty UsernameToken (the library always sends one; None crashes it).
        user, password = ep.username or "", ep.password or ""
        camera = ONVIFCamera(ep.host, ep.port, user, password, no_cache=True)
        self._camera = camera
        try:
            await self._call("connect", camera.update_xaddrs)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            # Closing the sockets of a dead device may fail too: there is nothing to keep.
            with contextlib.suppress(Exception):
                await camera.close()

    def supports(self, service: str) -> bool:
        namespace = {"events": EVENTS_NS, "ptz": PTZ_NS, "media": MEDIA_NS}[service]
        return self._camera is not None and namespace in self._camera.xaddrs

    async def device_info(self) -> DeviceInfo:
        service = await self._service("devicemgmt")
        info = await self._call("GetDeviceInformation", service.GetDeviceInformation)
        return DeviceInfo(
            manufacturer=_text(info, "Manufacturer"),
            model=_text(info, "Model"),
            firmware=_text(info, "FirmwareVersion"),
            serial=_text(info, "SerialNumber"),
            hardware_id=_text(info, "HardwareId"),
        )

    async def profiles(self) -> list[MediaProfile]:
        service = await self._service("media")
        found = await self._call("GetProfiles", service.GetProfiles)
        return [_profile(p) for p in found or []]

    async def stream_uri(self, profile_token: str) -> str:
        service = await self._service("media")
        request = {
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            "ProfileToken": profile_token,
        }
        answer = await self._call("GetStreamUri", lambda: service.GetStreamUri(request))
        uri = _text(answer, "Uri")
        if not uri:
            raise OnvifError(f"{self.endpoint.where}: no stream URI for profile {profile_token}")
        return uri

    async def snapshot(self, profile_token: str) -> bytes | None:
        camera = self._require()
        data: bytes | None = await self._call(
            "snapshot", lambda: camera.get_snapshot(profile_token, timeout=self.endpoint.timeout_s)
        )
        return data

    async def subscribe(self) -> EventSubscription:
        camera = self._require()
        if not self.supports("events"):
            raise OnvifUnsupported(f"{self.endpoint.where}: the device offers no events")
        lost = asyncio.Event()
        manager = await self._call(
            "CreatePullPointSubscription",
            lambda: camera.create_pullpoint_manager(
                dt.timedelta(seconds=self._subscription_s), lost.set
            ),
        )
        return _PullPoint(self, manager, lost)

    async def ptz_move(
        self, profile_token: str, pan: float, tilt: float, zoom: float, timeout_s: float | None
    ) -> None:
        service = await self._service("ptz")
        request: dict[str, Any] = {
            "ProfileToken": profile_token,
            "Velocity": {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}},
        }
        if timeout_s is not None:
            request["Timeout"] = dt.timedelta(seconds=timeout_s)
        await self._call("ContinuousMove", lambda: service.ContinuousMove(request))

    async def ptz_stop(self, profile_token: str) -> None:
        service = await self._service("ptz")
        request = {"ProfileToken": profile_token, "PanTilt": True, "Zoom": True}
        await self._call("Stop", lambda: service.Stop(request))

    async def ptz_presets(self, profile_token: str) -> list[Preset]:
        service = await self._service("ptz")
        found = await self._call(
            "GetPresets", lambda: service.GetPresets({"ProfileToken": profile_token})
        )
        return [Preset(str(_attr(p, "token")), _text(p, "Name")) for p in found or []]

    async def ptz_goto(self, profile_token: str, preset_token: str) -> None:
        service = await self._service("ptz")
        request = {"ProfileToken": profile_token, "PresetToken": preset_token}
        await self._call("GotoPreset", lambda: service.GotoPreset(request))

    async def ptz_relative(self, profile_token: str, pan: float, tilt: float, zoom: float) -> None:
        service = await self._service("ptz")
        translation: dict[str, Any] = {"PanTilt": {"x": pan, "y": tilt}}
        if zoom:
            translation["Zoom"] = {"x": zoom}
        request = {"ProfileToken": profile_token, "Translation": translation}
        await self._call("RelativeMove", lambda: service.RelativeMove(request))

    async def ptz_status(self, profile_token: str) -> PtzStatus:
        service = await self._service("ptz")
        answer = await self._call(
            "GetStatus", lambda: service.GetStatus({"ProfileToken": profile_token})
        )
        position = _attr(answer, "Position")
        pan_tilt, zoom = _attr(position, "PanTilt"), _attr(position, "Zoom")
        moves = _attr(answer, "MoveStatus")
        states = {str(_attr(moves, "PanTilt") or ""), str(_attr(moves, "Zoom") or "")}
        return PtzStatus(
            pan=_float(_attr(pan_tilt, "x")),
            tilt=_float(_attr(pan_tilt, "y")),
            zoom=_float(_attr(zoom, "x")),
            moving="MOVING" in states,
        )

    async def ptz_set_preset(self, profile_token: str, name: str) -> str:
        service = await self._service("ptz")
        request = {"ProfileToken": profile_token, "PresetName": name}
        answer = await self._call("SetPreset", lambda: service.SetPreset(request))
        token = answer if isinstance(answer, str) else _attr(answer, "PresetToken")
        if not token:
            raise OnvifError(f"{self.endpoint.where}: SetPreset answered no preset token")
        return str(token)

    async def ptz_remove_preset(self, profile_token: str, preset_token: str) -> None:
        service = await self._service("ptz")
        request = {"ProfileToken": profile_token, "PresetToken": preset_token}
        await self._call("RemovePreset", lambda: service.RemovePreset(request))

    # -- plumbing ---------------------------------------------------------------------------

    def _require(self) -> Any:
        if self._camera is None:
            raise OnvifError(f"{self.endpoint.where}: not connected")
        return self._camera

    async def _service(self, name: str) -> Any:
        camera = self._require()
        if name in ("ptz", "events", "media") and not self.supports(name):
            raise OnvifUnsupported(f"{self.endpoint.where}: the device offers no {name} service")
        creators = {
            "devicemgmt": camera.create_devicemgmt_service,
            "media": camera.create_media_service,
            "ptz": camera.create_ptz_service,
        }
        return await self._call(f"{name} service", creators[name])

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one request with the endpoint's timeout, translating every failure."""
        async with translated_errors(self.endpoint, what):
            return await asyncio.wait_for(call(), self.endpoint.timeout_s)


class _PullPoint:
    def __init__(self, device: ZeepOnvifDevice, manager: Any, lost: asyncio.Event) -> None:
        self._device = device
        self._manager = manager
        self._lost = lost

    async def pull(self, timeout_s: float, limit: int = 100) -> list[Notification]:
        if self._lost.is_set():
            raise OnvifError(f"{self._device.endpoint.where}: event subscription lost")
        service = self._manager.get_service()
        request = {"MessageLimit": limit, "Timeout": dt.timedelta(seconds=timeout_s)}
        endpoint = self._device.endpoint
        async with translated_errors(endpoint, "PullMessages"):
            answer = await asyncio.wait_for(
                service.PullMessages(request), timeout_s + endpoint.timeout_s
            )
        messages = getattr(answer, "NotificationMessage", None) or []
        found = (parse_notification(message) for message in messages)
        return [n for n in found if n is not None]

    def renew_soon(self) -> None:
        """Renew the subscription now rather than at 80 % of its term (the library's own
        schedule), e.g. after the network came back."""
        self._manager.resume()

    async def close(self) -> None:
        async with translated_errors(self._device.endpoint, "Unsubscribe"):
            await asyncio.wait_for(self._manager.shutdown(), self._device.endpoint.timeout_s)


@asynccontextmanager
async def translated_errors(endpoint: OnvifEndpoint, what: str) -> AsyncIterator[None]:
    """Library failures as our errors, with the endpoint and operation in the message."""
    import aiohttp
    import zeep.exceptions
    from onvif.exceptions import ONVIFAuthError, ONVIFError

    where = endpoint.where
    try:
        yield
    except (OnvifError, asyncio.CancelledError):
        raise
    except ONVIFAuthError as exc:
        raise OnvifAuthError(f"{where}: {what}: credentials refused") from exc
    except zeep.exceptions.Fault as exc:
        codes = " ".join(str(c) for c in (exc.subcodes or [])) + " " + str(exc.message)
        if "NotAuthorized" in codes or "not authorized" in codes.lower():
            raise OnvifAuthError(
                f"{where}: {what}: credentials refused (check user name, password and the "
                "camera's clock)"
            ) from exc
        if "ActionNotSupported" in codes:
            raise OnvifUnsupported(f"{where}: {what} is not supported by the device") from exc
        if any(code in codes for code in ("PresetExist", "TooManyPresets", "NoToken")):
            raise OnvifRefused(f"{where}: {what} refused: {exc.message}") from exc
        raise OnvifError(f"{where}: {what} failed: {exc.message}") from exc
    except zeep.exceptions.TransportError as exc:
        if exc.status_code == 401:
            raise OnvifAuthError(f"{where}: {what}: credentials refused") from exc
        raise OnvifError(f"{where}: {what}: HTTP {exc.status_code}") from exc
    except TimeoutError as exc:
        raise OnvifError(f"{where}: {what}: no answer in {endpoint.timeout_s:g} s") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise OnvifError(f"{where}: {what}: cannot reach the device ({exc})") from exc
    except (ONVIFError, zeep.exceptions.Error) as exc:
        raise OnvifError(f"{where}: {what} failed: {exc}") from exc


def _text(obj: Any, name: str) -> str:
    value = _attr(obj, name)
    return "" if value is None else str(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _attr(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _profile(profile: Any) -> MediaProfile:
    encoder = _attr(profile, "VideoEncoderConfiguration")
    resolution = _attr(encoder, "Resolution")
    rate = _attr(encoder, "RateControl")
    fps = _attr(rate, "FrameRateLimit")
    return MediaProfile(
        token=str(_attr(profile, "token")),
        name=_text(profile, "Name"),
        encoding=_text(encoder, "Encoding"),
        width=int(_attr(resolution, "Width") or 0),
        height=int(_attr(resolution, "Height") or 0),
        fps=float(fps) if fps else None,
        ptz=_attr(profile, "PTZConfiguration") is not None,
    )
