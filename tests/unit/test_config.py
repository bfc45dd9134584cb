import pytest

from recorder.config import RecordMode, parse_config, strip_credentials
from recorder.errors import ConfigError

CAMERA = {"id": "front-door", "main_url": "rtsp://192.0.2.10:554/s1"}


def config_with(**overrides: object) -> dict[str, object]:
    return {"data_dir": "/var/lib/skycam", "cameras": [CAMERA], **overrides}


def test_defaults() -> None:
    config = parse_config(config_with())
    assert config.storage.segment_seconds == 10
    assert config.storage.high_water_percent == 90
    assert config.storage.events_yield_to_space is True
    assert config.storage.watch_interval_s == 2
    assert config.capture.read_timeout_s == 20
    camera = config.cameras[0]
    assert camera.name == "front-door"
    assert camera.record_mode is RecordMode.CONTINUOUS
    assert config.retention_days_for(camera) == 30


def test_credentials_move_out_of_the_url_and_never_print() -> None:
    camera = {"id": "cam", "main_url": "rtsp://admin:s%3Acret@192.0.2.10/s1"}
    config = parse_config(config_with(cameras=[camera]))
    cam = config.cameras[0]
    assert cam.main_url == "rtsp://192.0.2.10/s1"
    assert cam.username == "admin"
    assert "s:cret" not in repr(config) and "s%3Acret" not in repr(config)
    assert cam.stream_url() == "rtsp://admin:s%3Acret@192.0.2.10/s1"


def test_sub_url_falls_back_to_main() -> None:
    cam = parse_config(config_with()).cameras[0]
    assert cam.stream_url("sub") == cam.stream_url("main")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (config_with(colour="blue"), "colour: unknown key"),
        (config_with(storage={"segment_secs": 5}), "storage.segment_secs: unknown key"),
        (config_with(storage={"segment_seconds": 0.5}), "storage.segment_seconds"),
        (config_with(storage={"low_water_percent": 95}), "low_water_percent must be below"),
        (config_with(storage={"max_bytes": "lots"}), "storage.max_bytes"),
        (config_with(storage={"watch_interval_s": 0}), "storage.watch_interval_s"),
        (config_with(cameras=[{"id": "Front Door", "main_url": "rtsp://h/"}]), "cameras[0].id"),
        (config_with(cameras=[{"id": "a", "main_url": "http://h/"}]), "cameras[0].main_url"),
        (config_with(cameras=[{"id": "a", "main_url": "rtsp:///x"}]), "has no host"),
        (config_with(cameras=[CAMERA, CAMERA]), "appears twice"),
        (config_with(capture={"rtsp_transport": "http"}), "capture.rtsp_transport"),
        ({"cameras": []}, "data_dir"),
    ],
)
def test_bad_config_names_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert message in str(caught.value)


def test_byte_sizes_parse_units() -> None:
    config = parse_config(config_with(storage={"max_bytes": "2 GiB", "min_free_bytes": "500MB"}))
    assert config.storage.max_bytes == 2 * 1024**3
    assert config.storage.min_free_bytes == 500_000_000


def test_strip_credentials() -> None:
    assert strip_credentials("rtsp://u:p@h:554/x?y=1") == "rtsp://h:554/x?y=1"
    assert strip_credentials("rtsp://h/x") == "rtsp://h/x"


@pytest.mark.parametrize("value", ["auto", "none", 0, 3])
def test_capture_cpu_accepts_auto_none_or_a_cpu_number(value: object) -> None:
    config = parse_config({"data_dir": "/tmp/skycam", "cameras": [], "capture": {"cpu": value}})
    assert config.capture.cpu == value


@pytest.mark.parametrize("value", ["fastest", True, 1.5, -1])
def test_capture_cpu_refuses_anything_else_naming_the_field(value: object) -> None:
    with pytest.raises(ConfigError, match=r"capture\.cpu"):
        parse_config({"data_dir": "/tmp/skycam", "cameras": [], "capture": {"cpu": value}})
