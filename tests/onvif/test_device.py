"""The ONVIF adapter against a fake camera speaking real SOAP: the real zeep client."""

from __future__ import annotations

import socket
from dataclasses import replace

import cv2
import numpy as np
import pytest

from recorder.errors import OnvifAuthError, OnvifError, OnvifUnsupported
from recorder.onvif.config import OnvifEndpoint
from recorder.onvif.device import ZeepOnvifDevice
from recorder.onvif.ptz import PtzControl, ptz_session

from .conftest import PROFILES
from .fake_device import FakeCamera, FakeOnvifDevice, fake_device


async def test_device_information_profiles_and_stream_uris(endpoint: OnvifEndpoint) -> None:
    async with ZeepOnvifDevice(endpoint) as device:
        info = await device.device_info()
        assert (info.manufacturer, info.model, info.serial, info.firmware) == (
            "Acme", "Cam 3000", "AC-0001", "1.2.3",
        )  # fmt: skip
        profiles = await device.profiles()
        assert [(p.token, p.encoding, p.width, p.height, p.fps, p.ptz) for p in profiles] == [
            ("prof_main", "H264", 1280, 720, 15.0, True),
            ("prof_sub", "H264", 640, 360, 15.0, True),
        ]
        assert await device.stream_uri("prof_sub") == "rtsp://127.0.0.1:554/sub"
        assert device.supports("events") and device.supports("ptz")


async def test_snapshot_is_a_jpeg(endpoint: OnvifEndpoint) -> None:
    async with ZeepOnvifDevice(endpoint) as device:
        data = await device.snapshot("prof_sub")
    assert data is not None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (360, 640, 3)


async def test_refused_credentials_are_an_auth_error(endpoint: OnvifEndpoint) -> None:
    with pytest.raises(OnvifAuthError, match="credentials refused"):
        async with ZeepOnvifDevice(replace(endpoint, password="wrong")) as device:
            await device.device_info()


async def test_an_unreachable_device_is_an_onvif_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(OnvifError, match=r"cannot reach|no answer"):
        await ZeepOnvifDevice(OnvifEndpoint("127.0.0.1", port, "a", "b", timeout_s=2)).connect()


async def test_devices_without_get_services_are_found_through_capabilities() -> None:
    with fake_device(FakeCamera(profiles=PROFILES, get_services=False)) as old:
        endpoint = OnvifEndpoint("127.0.0.1", old.port, "admin", "secret", timeout_s=5)
        async with ZeepOnvifDevice(endpoint) as device:
            assert device.supports("events") and device.supports("ptz")
            assert len(await device.profiles()) == 2
        assert old.camera.called("GetCapabilities")


async def test_ptz_moves_stops_and_goes_to_presets(
    device: FakeOnvifDevice, endpoint: OnvifEndpoint
) -> None:
    async with ptz_session(endpoint) as ptz:
        await ptz.move(pan=0.5, tilt=-2.0, zoom=0.1, timeout_s=2)
        await ptz.stop()
        presets = await ptz.presets()
        assert [(p.token, p.name) for p in presets] == [("1", "Gate"), ("2", "Yard")]
        await ptz.goto("2")
        with pytest.raises(OnvifUnsupported, match="no preset"):
            await ptz.goto("99")
    [move] = device.camera.called("ContinuousMove")
    assert move["ProfileToken"] == "prof_main"
    assert (move["PanTilt.x"], move["PanTilt.y"], move["Zoom.x"]) == ("0.5", "-1.0", "0.1")
    assert move["Timeout"] == "PT2S"  # the camera stops by itself if we vanish
    assert device.camera.called("Stop")[0]["ProfileToken"] == "prof_main"
    assert device.camera.called("GotoPreset")[0]["PresetToken"] == "2"


async def test_ptz_on_a_fixed_camera_is_unsupported() -> None:
    with fake_device(FakeCamera(profiles=PROFILES, ptz=False)) as fixed:
        endpoint = OnvifEndpoint("127.0.0.1", fixed.port, "admin", "secret", timeout_s=5)
        async with ZeepOnvifDevice(endpoint) as device:
            with pytest.raises(OnvifUnsupported):
                await PtzControl(device).move(pan=1)
        assert not fixed.camera.called("ContinuousMove")
