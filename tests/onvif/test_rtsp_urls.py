"""RTSP URL builders for cameras without ONVIF: pure functions."""

from __future__ import annotations

import pytest

from recorder.onvif.rtsp_urls import StreamUrls, Vendor, rtsp_urls, strip_credentials


@pytest.mark.parametrize(
    ("vendor", "main", "sub"),
    [
        ("hikvision", "rtsp://10.0.0.9/Streaming/Channels/101", "rtsp://10.0.0.9/Streaming/Channels/102"),
        ("dahua", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=0", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=1"),
        ("intelbras", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=0", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=1"),
        ("amcrest", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=0", "rtsp://10.0.0.9/cam/realmonitor?channel=1&subtype=1"),
        ("axis", "rtsp://10.0.0.9/axis-media/media.amp?videocodec=h264", "rtsp://10.0.0.9/axis-media/media.amp?videocodec=h264&resolution=640x360"),
        ("reolink", "rtsp://10.0.0.9/h264Preview_01_main", "rtsp://10.0.0.9/h264Preview_01_sub"),
        ("uniview", "rtsp://10.0.0.9/unicast/c1/s0/live", "rtsp://10.0.0.9/unicast/c1/s1/live"),
    ],
)  # fmt: skip
def test_vendor_defaults(vendor: str, main: str, sub: str) -> None:
    assert rtsp_urls(vendor, "10.0.0.9") == StreamUrls(main, sub)


def test_channels_ports_and_hosts() -> None:
    assert rtsp_urls(Vendor.HIKVISION, "nvr.local", channel=4, port=8554) == StreamUrls(
        "rtsp://nvr.local:8554/Streaming/Channels/401",
        "rtsp://nvr.local:8554/Streaming/Channels/402",
    )
    assert rtsp_urls("reolink", "cam", channel=12).main == "rtsp://cam/h264Preview_12_main"
    assert rtsp_urls("dahua", "fe80::1").main.startswith("rtsp://[fe80::1]/cam/")
    assert rtsp_urls("axis", "10.0.0.9", channel=2).main == (
        "rtsp://10.0.0.9/axis-media/media.amp?camera=2&videocodec=h264"
    )


def test_generic_cameras_give_their_paths() -> None:
    urls = rtsp_urls("generic", "10.0.0.9", path="live/ch0", sub_path="/live/ch1")
    assert urls == StreamUrls("rtsp://10.0.0.9/live/ch0", "rtsp://10.0.0.9/live/ch1")
    assert rtsp_urls("generic", "10.0.0.9", path="/stream").sub is None
    with pytest.raises(ValueError, match="path"):
        rtsp_urls("generic", "10.0.0.9")


@pytest.mark.parametrize(
    "bad",
    [
        {"vendor": "acme", "host": "10.0.0.9"},
        {"vendor": "dahua", "host": "user:pass@10.0.0.9"},
        {"vendor": "dahua", "host": "10.0.0.9/../x"},
        {"vendor": "dahua", "host": ""},
        {"vendor": "dahua", "host": "10.0.0.9", "port": 0},
        {"vendor": "dahua", "host": "10.0.0.9", "channel": 0},
    ],
)
def test_bad_input_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        rtsp_urls(**bad)  # type: ignore[arg-type]


def test_credentials_are_stripped() -> None:
    assert (
        strip_credentials("rtsp://admin:p%40ss@10.0.0.9:554/a?b=1") == "rtsp://10.0.0.9:554/a?b=1"
    )
    assert strip_credentials("rtsp://10.0.0.9/a") == "rtsp://10.0.0.9/a"
