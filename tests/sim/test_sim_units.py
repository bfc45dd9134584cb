"""Unit tests of the simulator's pure parts: specs, bitstream splitting, geometry, cache keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# Submodule imports: they work whether or not the editable install knows `sim` as a regular
# package (test_sim_cli checks the `from sim import ...` form in a fresh interpreter).
from sim.bitstream import (
    check_gop_structure,
    check_presentation_order,
    split_access_units,
    split_adts,
)
from sim.cluster import SimCamera
from sim.errors import SpecError
from sim.filtergraph import PassPath, scene_graph
from sim.formats import MAIN_FORMAT, SUB_FORMAT, StreamFormat
from sim.ground_truth import GroundTruth, compute_ground_truth
from sim.scene_cache import SceneCache, resolve_cache_dir
from sim.scenes import (
    IdleScene,
    LightsScene,
    LightStep,
    MotionPass,
    MotionScene,
    PatternScene,
    mixed_scene_names,
)
from sim.server_config import PreparedCamera, server_config
from sim.spec import CameraSpec, Fault

# --- faults and specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drop:20", Fault.drop(20)),
        ("stall:5", Fault.stall(5)),
        ("stall:5:2.5", Fault.stall(5, 2.5)),
        ("garbage", Fault.garbage()),
    ],
)
def test_fault_parses_and_prints_back(text: str, expected: Fault) -> None:
    assert Fault.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["drop", "drop:0", "drop:x", "stall", "stall:1:2:3", "hang:3", ""])
def test_bad_fault_is_refused_with_our_error(text: str) -> None:
    with pytest.raises(SpecError):
        Fault.parse(text)


def test_camera_spec_resolves_scene_names_and_checks_credentials() -> None:
    assert isinstance(CameraSpec("a", "pattern").scene_spec, PatternScene)
    assert isinstance(CameraSpec("a").scene_spec, MotionScene)
    with pytest.raises(SpecError):
        CameraSpec("a", "fog")
    with pytest.raises(SpecError):
        CameraSpec("a", user="u")
    with pytest.raises(SpecError):
        CameraSpec("a b")


def test_scenes_validate_their_script() -> None:
    with pytest.raises(SpecError):
        MotionScene(duration_s=10, passes=(MotionPass(8, 12, (0, 0.5), (1, 0.5)),))
    with pytest.raises(SpecError):
        IdleScene(duration_s=0)
    with pytest.raises(SpecError):
        LightsScene(duration_s=10, steps=(LightStep(12, 0.0),))
    with pytest.raises(SpecError):
        StreamFormat(641, 360)


def test_mixed_cycles_every_scene_kind() -> None:
    assert mixed_scene_names(5) == ["motion", "idle", "lights", "pattern", "motion"]


# --- bitstream -----------------------------------------------------------------------------------

AUD = b"\x00\x00\x00\x01\x09\xf0"
SPS = b"\x00\x00\x00\x01\x67\x4d\x00\x1f"
PPS = b"\x00\x00\x00\x01\x68\xee\x3c\x80"
IDR = b"\x00\x00\x01\x65\x88\x84\x00"
SLICE = b"\x00\x00\x01\x41\x9a\x02"


def stream(gops: int, gop: int) -> bytes:
    return b"".join(
        AUD + SPS + PPS + IDR if i % gop == 0 else AUD + SLICE for i in range(gops * gop)
    )


def test_access_units_split_on_delimiters_and_keep_their_start_code() -> None:
    units = split_access_units(stream(2, 3))
    assert len(units) == 6
    assert units[0].data == AUD + SPS + PPS + IDR
    assert units[0].is_idr and units[0].has_parameter_sets
    assert not units[1].is_idr
    check_gop_structure(units, 3)


def test_gop_check_rejects_what_would_not_loop_cleanly() -> None:
    with pytest.raises(ValueError, match="IDR"):
        check_gop_structure(split_access_units(stream(2, 3)), 2)
    with pytest.raises(ValueError, match="whole number"):
        check_gop_structure(split_access_units(stream(2, 3))[:5], 3)
    with pytest.raises(ValueError, match="delimiter"):
        split_access_units(SPS + PPS + IDR)
    no_headers = split_access_units(AUD + IDR + AUD + SLICE)
    with pytest.raises(ValueError, match="SPS/PPS"):
        check_gop_structure(no_headers, 2)


HEVC_AUD = b"\x00\x00\x00\x01\x46\x01\x50"
HEVC_VPS = b"\x00\x00\x01\x40\x01\x0c"
HEVC_SPS = b"\x00\x00\x01\x42\x01\x01"
HEVC_PPS = b"\x00\x00\x01\x44\x01\xc1"
HEVC_IDR = b"\x00\x00\x01\x26\x01\xaf"  # IDR_W_RADL (19)
HEVC_TRAIL = b"\x00\x00\x01\x02\x01\xd0"  # TRAIL_R (1)


def test_h265_access_units_split_on_their_own_delimiters() -> None:
    idr = HEVC_AUD + HEVC_VPS + HEVC_SPS + HEVC_PPS + HEVC_IDR
    units = split_access_units((idr + HEVC_AUD + HEVC_TRAIL) * 2, "h265")
    assert [u.data for u in units] == [idr, HEVC_AUD + HEVC_TRAIL] * 2
    assert units[0].nal_types == (35, 32, 33, 34, 19)
    assert units[0].is_idr and units[0].has_parameter_sets and not units[1].is_idr
    check_gop_structure(units, 2)
    with pytest.raises(ValueError, match="delimiter"):
        split_access_units(stream(1, 2), "h265")  # H.264 delimiters are not H.265's


def test_presentation_order_must_keep_each_gop_closed() -> None:
    check_presentation_order([0, 4, 2, 1, 3, 5, 9, 7, 6, 8], 5)  # IBBP, pyramid
    with pytest.raises(ValueError, match="not closed"):
        check_presentation_order([0, 5, 2, 1, 3, 4, 9, 7, 6, 8], 5)  # a B-frame refers ahead


def test_profiles_keep_the_plain_cache_key_and_change_the_others() -> None:
    plain = StreamFormat(1280, 720, 15, 2000)
    assert plain.cache_params() == {"width": 1280, "height": 720, "fps": 15, "bitrate_kbps": 2000}
    high = StreamFormat(1280, 720, 25, 2000, bframes=3, gop_s=2)
    assert high.gop == 50 and high.cache_params()["bframes"] == 3
    with pytest.raises(SpecError, match="codec"):
        StreamFormat(640, 360, codec="vp9")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="pattern"):
        CameraSpec("cam", "pattern", main=StreamFormat(1280, 720, codec="h265"))


def adts_frame(payload: bytes, rate_index: int = 8, channels: int = 1) -> bytes:
    length = 7 + len(payload)
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (rate_index << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return header + payload


def test_adts_splits_into_frames_and_reads_the_rate() -> None:
    parsed = split_adts(adts_frame(b"abc") + adts_frame(b"defgh"))
    assert parsed.frames == (adts_frame(b"abc"), adts_frame(b"defgh"))
    assert parsed.sample_rate == 16000 and parsed.channels == 1
    assert parsed.frame_duration_s == pytest.approx(0.064)
    with pytest.raises(ValueError):
        split_adts(adts_frame(b"abc")[:-1])


# --- geometry and ground truth ------------------------------------------------------------------


def test_pass_path_matches_the_overlay_expression() -> None:
    path = PassPath.of(MotionPass(1.0, 3.0, (0.0, 0.5), (1.0, 0.5), (0.1, 0.2)), 1280, 720, 15)
    assert (path.w, path.h) == (128, 144)
    assert path.top_left(path.n_enter - 1) is None
    assert path.top_left(15) == (-64, 288)  # centre at x=0 at the start
    assert path.top_left(45) == (1216, 288)
    x, y = path.top_left(30) or (0, 0)
    assert (x, y) == (576, 288) and x % 2 == 0
    assert "floor(t*15+0.5)" in path.expr("x", 15)


def test_motion_ground_truth_follows_the_script_in_both_streams() -> None:
    scene = MotionScene()
    main = compute_ground_truth(scene, "main", MAIN_FORMAT, MAIN_FORMAT)
    sub = compute_ground_truth(scene, "sub", MAIN_FORMAT, SUB_FORMAT)
    assert len(main.motion) == len(scene.passes) == 3
    for interval, motion_pass in zip(main.motion, scene.passes, strict=True):
        assert motion_pass.enter_s <= interval.start_s < interval.end_s <= motion_pass.exit_s
        assert len(interval.boxes) == round((interval.end_s - interval.start_s) * 15)
        for box in interval.boxes:
            assert box.x >= 0 and box.x + box.w <= 1280 and box.y >= 0 and box.y + box.h <= 720
            assert box.nx == pytest.approx(box.x / 1280)
    for main_box, sub_box in zip(main.motion[0].boxes, sub.motion[0].boxes, strict=True):
        assert abs(sub_box.x - main_box.x / 2) <= 1 and abs(sub_box.w - main_box.w / 2) <= 1
    assert main.moving_at(8.0) and not main.moving_at(15.0)
    assert main.boxes_at(8.0)[0].x == main.motion[0].box_at(8.0).x  # type: ignore[union-attr]
    assert main.scene_time(1_700_000_007.5) == pytest.approx(1_700_000_007.5 % 60)


def test_ground_truth_json_round_trips(tmp_path: Path) -> None:
    truth = compute_ground_truth(LightsScene(), "sub", MAIN_FORMAT, SUB_FORMAT)
    truth.write(tmp_path / "sub.json")
    again = GroundTruth.read(tmp_path / "sub.json")
    assert again == truth and again.path == tmp_path / "sub.json"
    assert [s.t_s for s in again.brightness_steps] == [20.0, 40.0]
    assert again.motion == ()


def test_scene_graph_has_one_overlay_per_pass_and_both_outputs() -> None:
    graph = scene_graph(MotionScene(), MAIN_FORMAT, SUB_FORMAT)
    assert graph.count("overlay=") == 3
    assert "[main]" in graph and "scale=640:360" in graph and "trim=end_frame=900" in graph
    assert "eq=brightness" in scene_graph(LightsScene(), MAIN_FORMAT, SUB_FORMAT)


# --- cache ---------------------------------------------------------------------------------------


class CountingEncoder:
    """Writes placeholder files and counts how often it is asked to encode."""

    def __init__(self) -> None:
        self.video_calls = 0
        self.audio_calls = 0

    @property
    def settings(self) -> dict[str, Any]:
        return {"fake": 1}

    def encode_video(
        self, graph: str, outputs: list[tuple[StreamFormat, Path]], frames: int
    ) -> None:
        self.video_calls += 1
        for _, path in outputs:
            path.write_bytes(b"video")

    def encode_audio(self, path: Path, seconds: int, sample_rate: int) -> None:
        self.audio_calls += 1
        path.write_bytes(b"audio")


def test_cache_encodes_once_per_distinct_scene(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    cache = SceneCache(tmp_path, encoder)
    first = cache.scene(IdleScene(), MAIN_FORMAT, SUB_FORMAT)
    again = cache.scene(IdleScene(), MAIN_FORMAT, SUB_FORMAT)
    assert encoder.video_calls == 1 and again.directory == first.directory
    assert first.main_truth.path == first.directory / "main.json"
    cache.scene(IdleScene(noise=6), MAIN_FORMAT, SUB_FORMAT)
    cache.scene(IdleScene(), MAIN_FORMAT, StreamFormat(640, 360, 15, 600))
    assert encoder.video_calls == 3
    assert cache.audio() == cache.audio() and encoder.audio_calls == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_cache_dir_comes_from_argument_then_environment_then_home() -> None:
    assert resolve_cache_dir(Path("/x"), {"SKYCAM_SIM_CACHE": "/y"}) == Path("/x")
    assert resolve_cache_dir(None, {"SKYCAM_SIM_CACHE": "/y"}) == Path("/y")
    assert resolve_cache_dir(None, {}).parts[-3:] == (".cache", "skycam", "scenes")


# --- server configuration and URLs -------------------------------------------------------------


def test_server_config_assigns_ports_auth_faults_and_audio(tmp_path: Path) -> None:
    cache = SceneCache(tmp_path, CountingEncoder())
    encoded = cache.scene(IdleScene(), MAIN_FORMAT, SUB_FORMAT)
    cameras = [
        PreparedCamera(CameraSpec("a", "idle", audio=True), encoded, tmp_path / "a.aac"),
        PreparedCamera(
            CameraSpec("b", "pattern", Fault.stall(3, 2), user="u", password="p"), None, None
        ),
        PreparedCamera(CameraSpec("c", "idle", port=9000), encoded, None),
    ]
    config = server_config(cameras, "127.0.0.1", base_port=8554)
    a, b, c = config["cameras"]
    assert [a["port"], b["port"], c["port"]] == [8554, 8555, 9000]
    assert a["mounts"]["main"]["audio"] == str(tmp_path / "a.aac")
    assert a["mounts"]["sub"]["audio"] is None
    assert a["mounts"]["main"]["video"] == str(encoded.main_video)
    assert b["mounts"]["main"]["source"] == "pattern"
    assert b["auth"] == {"user": "u", "password": "p"}
    assert b["fault"]["kind"] == "stall" and b["fault"]["resume_after_s"] == 2
    assert server_config(cameras, "127.0.0.1", None)["cameras"][0]["port"] == 0
    with pytest.raises(SpecError):
        server_config([cameras[0], cameras[0]], "127.0.0.1", None)


def test_camera_urls_carry_escaped_credentials() -> None:
    cam = SimCamera(
        CameraSpec("a", "idle", user="admin", password="p@ss:w"), "127.0.0.1", 8554, None, None
    )
    assert cam.main_url == "rtsp://admin:p%40ss%3Aw@127.0.0.1:8554/main"
    assert cam.url("sub", credentials=False) == "rtsp://127.0.0.1:8554/sub"
    assert cam.url(password="bad") == "rtsp://admin:bad@127.0.0.1:8554/main"
