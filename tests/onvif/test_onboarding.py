"""Onboarding: WS-Discovery on loopback, the device probe, `skycam discover`, and a probed
stream URI that really plays (a simulated camera behind the fake ONVIF device)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from recorder.capture.opener import PyAVStreamOpener
from recorder.config import CameraConfig, RecorderConfig
from recorder.errors import OnvifAuthError, OnvifUnsupported
from recorder.onvif import cli
from recorder.onvif.config import OnvifEndpoint, endpoint_for
from recorder.onvif.device import MediaProfile
from recorder.onvif.discovery import discover, parse_probe_matches, probe_message
from recorder.onvif.probe import choose_streams, probe_device
from sim import CameraSpec, SimCluster

from .fake_device import FakeCamera, FakeOnvifDevice, FakeProfile, fake_device
from .fake_discovery import MATCHES, responder


@pytest.fixture(scope="module")
def sim_camera() -> Iterator[tuple[str, str]]:
    with SimCluster([CameraSpec("porch", "idle", user="admin", password="s3cret")]) as cluster:
        cam = cluster.cameras["porch"]
        yield cam.url("main", credentials=False), cam.url("sub", credentials=False)


@pytest.fixture
def porch(sim_camera: tuple[str, str]) -> Iterator[FakeOnvifDevice]:
    main, sub = sim_camera
    profiles = (
        FakeProfile("p0", "Main", 1280, 720, main.replace("rtsp://", "rtsp://admin:s3cret@")),
        FakeProfile("p1", "Sub", 640, 360, sub),
    )
    with fake_device(FakeCamera(profiles=profiles, password="s3cret")) as running:
        yield running


async def test_a_discovered_camera_is_added_in_one_step(porch: FakeOnvifDevice) -> None:
    xaddr = f"{porch.base}/onvif/device_service"
    with responder(xaddr) as answering:
        [found] = await discover(
            1.0, targets=[("127.0.0.1", answering.port)], bind=("127.0.0.1", 0)
        )
    assert len(answering.probes) == 2 and len(set(answering.probes)) == 1  # sent twice
    assert (found.host, found.port, found.name, found.hardware) == (
        "127.0.0.1", porch.port, "Porch Cam", "Cam 3000",
    )  # fmt: skip
    endpoint = OnvifEndpoint(found.host or "", found.port, "admin", "s3cret", timeout_s=5)
    description = await probe_device(endpoint)
    assert (description.info.manufacturer, description.info.serial) == ("Acme", "AC-0001")
    assert description.main_profile == "p0" and description.sub_profile == "p1"
    assert "s3cret" not in description.main_uri  # credentials never kept in URLs
    settings = description.camera_settings("porch", username="admin", password="s3cret")
    camera = CameraConfig.model_validate(settings)
    assert camera.name == "Acme Cam 3000" and camera.motion.source.value == "both"
    assert endpoint_for(camera) == replace(endpoint, timeout_s=10)
    # The stream URIs play, with the credentials given once.
    opener = PyAVStreamOpener()
    for which, size in (("main", (1280, 720)), ("sub", (640, 360))):
        stream = opener.open(camera.stream_url(which))
        try:
            assert (stream.info.width, stream.info.height) == size
        finally:
            stream.close()
    # Without the onvif table, the entry is a valid camera of today's config too.
    del settings["onvif"]
    RecorderConfig(data_dir="/tmp", cameras=(CameraConfig.model_validate(settings),))  # type: ignore[arg-type]


async def test_probing_with_wrong_credentials_says_so(porch: FakeOnvifDevice) -> None:
    endpoint = OnvifEndpoint("127.0.0.1", porch.port, "admin", "nope", timeout_s=5)
    with pytest.raises(OnvifAuthError):
        await probe_device(endpoint)


def test_streams_are_chosen_by_size_and_codec() -> None:
    def profile(token: str, enc: str, w: int, h: int) -> MediaProfile:
        return MediaProfile(token, token, enc, w, h, 15.0, False)

    main, sub = choose_streams(
        [profile("jpeg", "JPEG", 640, 480), profile("big", "H265", 2560, 1440),
         profile("mid", "H264", 1280, 720), profile("small", "H264", 640, 360),
         profile("tiny", "H265", 320, 180)]
    )  # fmt: skip
    assert main.token == "big" and sub is not None and sub.token == "small"
    only, none = choose_streams([profile("one", "H264", 1920, 1080)])
    assert only.token == "one" and none is None
    with pytest.raises(OnvifUnsupported, match="JPEG"):
        choose_streams([profile("jpeg", "JPEG", 640, 480)])


def test_probe_matches_parsing_ignores_what_is_not_an_answer() -> None:
    probe_id = "urn:uuid:1234"
    answer = MATCHES.format(
        reply_id="r", relates_to=probe_id, number=1, address="urn:uuid:cam", scopes="",
        xaddrs="http://10.0.0.5/onvif/device_service http://[fe80::1]/onvif/device_service",
    ).encode()  # fmt: skip
    [device] = parse_probe_matches(answer, probe_id)
    assert device.address == "urn:uuid:cam" and device.host == "10.0.0.5" and device.port == 80
    assert "dn:NetworkVideoTransmitter" in device.types
    assert parse_probe_matches(answer, "urn:uuid:other-probe") == []
    assert parse_probe_matches(b"<not xml", probe_id) == []
    assert parse_probe_matches(probe_message(probe_id), probe_id) == []  # our own probe
    assert parse_probe_matches(b"x" * 70_000) == []


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    status = cli.run(parser.parse_args(argv))
    return status, capsys.readouterr().out


def test_skycam_discover_finds_and_describes(
    porch: FakeOnvifDevice, capsys: pytest.CaptureFixture[str]
) -> None:
    with responder(f"{porch.base}/onvif/device_service") as answering:
        argv = ["--target", f"127.0.0.1:{answering.port}", "--timeout", "0.5"]
        status, out = run_cli([*argv, "--user", "admin", "--password", "s3cret", "--json"], capsys)
        assert status == 0
        [entry] = json.loads(out)["devices"]
        assert entry["name"] == "Porch Cam"
        assert entry["device"]["model"] == "Cam 3000" and entry["device"]["ptz"] is True
        status, out = run_cli(argv, capsys)  # no credentials: list only
        assert status == 0 and "Porch Cam" in out and "main" not in out
    status, out = run_cli(
        ["--host", "127.0.0.1", "--port", str(porch.port), "--user", "admin", "--password", "x"],
        capsys,
    )
    assert status == 1 and "credentials refused" in out
    assert run_cli(["--target", "127.0.0.1:notaport"], capsys)[0] == 2
