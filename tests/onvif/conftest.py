"""Fixtures for ONVIF tests: a fake ONVIF camera on 127.0.0.1 and how to reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recorder.onvif.config import OnvifEndpoint

from .fake_device import FakeCamera, FakeOnvifDevice, FakeProfile, fake_device

PROFILES = (
    FakeProfile("prof_main", "MainStream", 1280, 720, "rtsp://127.0.0.1:554/main"),
    FakeProfile("prof_sub", "SubStream", 640, 360, "rtsp://127.0.0.1:554/sub"),
)


@pytest.fixture
def device() -> Iterator[FakeOnvifDevice]:
    with fake_device(FakeCamera(profiles=PROFILES)) as running:
        yield running


@pytest.fixture
def endpoint(device: FakeOnvifDevice) -> OnvifEndpoint:
    return OnvifEndpoint("127.0.0.1", device.port, "admin", "secret", timeout_s=5)
