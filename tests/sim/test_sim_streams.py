"""Functional tests: real simulated cameras over RTSP/TCP, read with PyAV as the recorder does."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
from sim_rtsp_probe import Decoded, changed, decode, read_packets

from sim.cluster import SimCamera, SimCluster
from sim.formats import MOUNTS
from sim.scenes import MotionPass, MotionScene
from sim.spec import CameraSpec

FPS = 15
READ_S = 4.0
# A 4-second loop with one quick crossing: any 5-second read crosses a loop boundary.
LOOP_SCENE = MotionScene(
    duration_s=4, passes=(MotionPass(1.0, 3.0, (-0.06, 0.5), (1.06, 0.5), (0.12, 0.25)),)
)
SPECS = [
    CameraSpec("motion", "motion", audio=True),
    CameraSpec("idle", "idle"),
    CameraSpec("lights", "lights"),
    CameraSpec("pattern", "pattern"),
    CameraSpec("secure", "idle", user="viewer", password="s3cret pass"),
    CameraSpec("looper", LOOP_SCENE),
]
STREAMS = [(spec.name, mount) for spec in SPECS for mount in MOUNTS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(SPECS) as running:
        yield running


@pytest.fixture(scope="module")
def decoded_all(cluster: SimCluster) -> dict[tuple[str, str], Decoded]:
    """Every mount of every camera, decoded for READ_S seconds, half of them at a time: all
    twelve at once would starve the decoders (not the server) of CPU on a two-core machine.

    Video only: with an audio track too, FFmpeg re-bases the video PTS once on the first RTCP
    sender reports, by up to an audio frame (64 ms) when a report is built while the server is
    busy. That shift is the client's, not the camera's cadence; the recorder's own tests read
    both tracks (tests/functional, tests/e2e with the audio profiles)."""
    with ThreadPoolExecutor(len(STREAMS) // 2) as pool:
        futures = {
            (name, mount): pool.submit(
                decode, cluster.cameras[name].url(mount), READ_S, video_only=True
            )
            for name, mount in STREAMS
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(("name", "mount"), STREAMS)
def test_every_mount_delivers_frames_of_its_size_at_its_rate(
    cluster: SimCluster, decoded_all: dict[tuple[str, str], Decoded], name: str, mount: str
) -> None:
    result = decoded_all[(name, mount)]
    fmt = cluster.cameras[name].spec.main if mount == "main" else cluster.cameras[name].spec.sub
    assert (result.width, result.height) == (fmt.width, fmt.height)
    assert result.errors == 0
    assert len(result.pts) >= FPS * (READ_S - 1)
    # Every frame, one frame duration apart...
    steps = np.diff(result.pts) * float(result.time_base)
    odd = [(i, step) for i, step in enumerate(steps) if abs(step - 1 / FPS) > 2e-4]
    assert not odd, f"frame steps other than 1/{FPS} s: {odd}"
    # ...and media time keeps pace with the wall clock: the smallest delay between a frame's
    # timestamp and its arrival is about the same early and late in the read. The margin is wide
    # because a starved client falls behind in bursts (arrivals are timed by the reader);
    # test_sim_endurance measures the rate closely, over a minute.
    lag = np.array(result.wall) - np.array(result.pts) * float(result.time_base)
    half = len(lag) // 2
    assert abs(lag[:half].min() - lag[half:].min()) < 0.5


def test_audio_camera_has_aac_on_main(cluster: SimCluster) -> None:
    log = read_packets(cluster.cameras["motion"].main_url, 3.0, kind="audio")
    assert log.codec == "aac" and log.sample_rate == 16000
    # 1024 samples per AAC frame at 16 kHz: 15.6 packets a second.
    steady = [t for t in log.arrivals if t >= log.opened_at + 0.5]
    assert len(steady) == pytest.approx((log.ended_at - log.opened_at - 0.5) * 15.6, abs=5)
    assert (np.diff(log.pts) > 0).all()


def test_only_the_main_mount_carries_audio(cluster: SimCluster) -> None:
    with av.open(cluster.cameras["motion"].sub_url, options={"rtsp_transport": "tcp"}) as c:
        assert len(c.streams.audio) == 0


@pytest.mark.parametrize(
    "url_of",
    [
        lambda cam: cam.url(credentials=False),
        lambda cam: cam.url(password="wrong"),
        lambda cam: cam.url(user="intruder", password="s3cret pass"),
    ],
    ids=["no-credentials", "wrong-password", "wrong-user"],
)
def test_camera_with_credentials_refuses_others(cluster: SimCluster, url_of: object) -> None:
    url = url_of(cluster.cameras["secure"])  # type: ignore[operator]
    with pytest.raises(av.error.HTTPUnauthorizedError):
        av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)


def test_camera_with_credentials_admits_the_right_ones(
    decoded_all: dict[tuple[str, str], Decoded],
) -> None:
    assert len(decoded_all[("secure", "main")].pts) > FPS * 2


def test_scene_loops_seamlessly(cluster: SimCluster) -> None:
    result = decode(cluster.cameras["looper"].main_url, 6.0)
    assert result.wall[-1] - result.wall[0] > LOOP_SCENE.duration_s  # crossed a boundary
    assert result.errors == 0
    steps = np.diff(result.pts)
    assert (steps > 0).all()
    assert set(steps.tolist()) == {int(1 / FPS / result.time_base)}  # exactly even: 6000 at 90 kHz


def test_several_clients_share_one_pipeline(cluster: SimCluster) -> None:
    def media_events() -> int:
        return sum(1 for e in cluster.events() if e["event"] == "media" and e["camera"] == "idle")

    before = media_events()
    url = cluster.cameras["idle"].sub_url
    with ThreadPoolExecutor(2) as pool:
        logs = list(pool.map(lambda _: read_packets(url, 3.0), range(2)))
    for log in logs:
        assert log.ended_by == "time" and len(log.pts) > 2 * FPS
    # One new media for both clients: they watch the same packets, the cost does not double.
    sub_media = [
        e for e in cluster.events()[-10:] if e["event"] == "media" and e["camera"] == "idle"
    ]
    assert media_events() - before == 1 and sub_media[-1]["mount"] == "sub"


def test_scripted_cameras_publish_their_ground_truth(cluster: SimCluster) -> None:
    cams = cluster.cameras
    for name in ("motion", "idle", "lights", "looper"):
        truth = cams[name].ground_truth
        sub_truth = cams[name].sub_ground_truth
        assert truth is not None and truth.path is not None and truth.path.exists()
        assert sub_truth is not None and (sub_truth.width, sub_truth.height) == (640, 360)
        assert truth.scene == cams[name].spec.scene_spec.kind
    assert cams["pattern"].ground_truth is None


def test_wall_clock_tells_the_scene_time(cluster: SimCluster) -> None:
    """The frame shown at Unix time T is scene time T % duration: decode the short motion scene
    and check the moving object is where, and only when, its ground truth says."""
    camera: SimCamera = cluster.cameras["looper"]
    truth = camera.sub_ground_truth
    assert truth is not None
    result = decode(camera.sub_url, 7.0, keep_gray=True)
    # Map PTS to wall time with the smallest observed delay: frames of the catch-up burst and
    # those buffered while PyAV probed are decoded late, steady-state ones just after sending.
    seconds = [float(p * result.time_base) for p in result.pts]
    offset = min(w - s for w, s in zip(result.wall, seconds, strict=True))
    checked_moving = checked_still = 0
    for index in range(1, len(result.gray)):
        scene_t = truth.scene_time(seconds[index] + offset)
        moved = changed(result.gray[index - 1], result.gray[index])
        margin = 0.25  # latency and its jitter, in seconds
        if any(m.start_s + margin < scene_t < m.end_s - margin for m in truth.motion):
            boxes = truth.boxes_at(scene_t)
            assert moved.sum() > 50, f"no motion at scene time {scene_t:.2f}"
            centre = np.nonzero(moved)[1].mean()
            box = boxes[0]
            # The changes straddle the box (leading and trailing edges), give or take a few
            # frames of travel for the residual latency.
            assert box.x - 60 < centre < box.x + box.w + 60
            checked_moving += 1
        elif not any(m.start_s - margin < scene_t < m.end_s + margin for m in truth.motion):
            assert moved.sum() == 0, f"unexpected change at scene time {scene_t:.2f}"
            checked_still += 1
    assert checked_moving > 10 and checked_still > 10
