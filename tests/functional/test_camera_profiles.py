"""Every camera profile recorded whole: real RTSP from the simulator, real PyAV, real files.

One simulated camera per profile (H.264 Main, H.264 High with B-frames, H.265; each with and
without AAC) is recorded at once by a `CaptureSession`, in 4 s segments, until each has a few
segments. The tests then check what a user would: the segments cover the session's uptime with
no gap, each decodes completely with its frames in presentation order, the frames in the files
are exactly the frames the camera sent (the simulator's encoded units, by their bytes, each at
its own wall-clock time), a player crossing segment boundaries decodes them all, and each file
starts at 0.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from recorder.capture.health import CameraHealth, CameraState, HealthBoard
from recorder.capture.opener import PyAVStreamOpener
from recorder.capture.session import CaptureSession, SessionSettings
from recorder.clock import SystemClock
from recorder.errors import StreamError
from recorder.media.clip_export import export_clip
from recorder.media.download import download_copy
from recorder.media.hls import vod_playlist
from recorder.storage.layout import SegmentLayout
from recorder.storage.model import NewSegment, Segment
from sim import CameraSpec, SimCluster
from sim.bitstream import split_access_units
from sim.formats import StreamFormat
from sim.scenes import IdleScene

pytestmark = pytest.mark.slow

SEGMENT_S = 4
SEGMENTS_WANTED = 3  # whole segments before stopping: two boundaries inside each recording
PROFILES = {
    "h264-main": StreamFormat(640, 360, 15, 600),
    "h264-high-bframes": StreamFormat(640, 360, 25, 800, bframes=3, gop_s=2),
    "h265": StreamFormat(640, 360, 15, 600, codec="h265"),
}
CASES = [(name, audio) for name in PROFILES for audio in (False, True)]
# A frame arrives about one frame after the camera sent it (FFmpeg's parser waits for the next
# one), and B-frames leave the camera up to their reorder depth before they are shown.
PLACEMENT_TOLERANCE_MS = 200


def camera_name(profile: str, audio: bool) -> str:
    return f"{profile}-{'aac' if audio else 'mute'}"


@dataclass
class Recording:
    data_dir: Path
    fmt: StreamFormat
    segments: list[NewSegment]
    states: list[CameraState]
    connected_ms: int
    stopped_ms: int
    units: dict[bytes, int]  # an encoded frame's slices -> its presentation index in the loop
    loop_frames: int


@dataclass(frozen=True)
class Frame:
    wall_ms: float  # where the segment file puts it on the wall clock
    number: int  # which frame of the camera it is: its presentation index in the loop


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Recording]]:
    specs = [
        CameraSpec(
            camera_name(name, audio),
            IdleScene(duration_s=20),
            audio=audio,
            main=PROFILES[name],
            sub=StreamFormat(320, 180, PROFILES[name].fps, 200),
        )
        for name, audio in CASES
    ]
    data_dir = tmp_path_factory.mktemp("profiles")
    with SimCluster(specs) as cluster:
        yield record_all(cluster, specs, data_dir)


def record_all(
    cluster: SimCluster, specs: list[CameraSpec], data_dir: Path
) -> dict[str, Recording]:
    health = HealthBoard()
    states: dict[str, list[CameraState]] = {spec.name: [] for spec in specs}

    def note(change: CameraHealth) -> None:
        states[change.camera_id].append(change.state)

    health.subscribe(note)
    clock = SystemClock()
    results: dict[str, list[NewSegment]] = {spec.name: [] for spec in specs}
    sessions = {
        spec.name: CaptureSession(
            spec.name,
            cluster.cameras[spec.name].main_url,
            PyAVStreamOpener(),
            SegmentLayout(data_dir),
            SessionSettings(segment_seconds=SEGMENT_S),
            health,
            clock,
            results[spec.name].append,
        )
        for spec in specs
    }
    failures: dict[str, BaseException] = {}

    def run(name: str) -> None:
        try:
            sessions[name].run()
        except StreamError as exc:
            failures[name] = exc

    connected_ms = round(time.time() * 1000)
    threads = [threading.Thread(target=run, args=(name,)) for name in sessions]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not failures:
        if all(len(found) >= SEGMENTS_WANTED for found in results.values()):
            break
        time.sleep(0.2)
    stopped_ms = round(time.time() * 1000)
    for session in sessions.values():
        session.stop()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    recordings = {}
    for spec in specs:
        truth = cluster.cameras[spec.name].ground_truth
        assert truth is not None and truth.path is not None
        units, frames = encoded_units(truth.path.parent, spec.main)
        recordings[spec.name] = Recording(
            data_dir, spec.main, results[spec.name], states[spec.name], connected_ms,
            stopped_ms, units, frames,
        )  # fmt: skip
    return recordings


def vcl_key(nals: Iterator[bytes], codec: str) -> bytes:
    """The coded slices of a frame, which identify it: parameter sets and delimiters are
    repeated or dropped along the way, the slices are not."""
    if codec == "h265":
        return b"".join(n for n in nals if n and (n[0] >> 1) & 0x3F < 32)
    return b"".join(n for n in nals if n and n[0] & 0x1F in (1, 5))


def annexb_nals(data: bytes) -> Iterator[bytes]:
    for part in data.split(b"\x00\x00\x01"):
        yield part.rstrip(b"\x00")


def length_prefixed_nals(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        yield data[pos + 4 : pos + 4 + size]
        pos += 4 + size


def encoded_units(folder: Path, fmt: StreamFormat) -> tuple[dict[bytes, int], int]:
    video = folder / f"main.{fmt.codec}"
    units = split_access_units(video.read_bytes(), fmt.codec)
    order_file = folder / "main.order.json"
    order = json.loads(order_file.read_text()) if fmt.bframes else list(range(len(units)))
    keys = {vcl_key(annexb_nals(u.data), fmt.codec): order[i] for i, u in enumerate(units)}
    assert len(keys) == len(units), "every frame of the scene is different"
    return keys, len(units)


@dataclass(frozen=True)
class Stored:
    """A packet as a segment file holds it."""

    dts: int
    pts: int
    seconds: float  # one tick
    data: bytes


def stored(path: Path, kind: str = "video") -> list[Stored]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        assert stream.time_base is not None
        tick = float(stream.time_base)
        found = []
        for packet in container.demux(stream):
            if packet.size:
                assert packet.dts is not None and packet.pts is not None
                found.append(Stored(packet.dts, packet.pts, tick, bytes(packet)))
    return found


def frames_of(path: Path, segment: NewSegment, recording: Recording) -> list[Frame]:
    """The camera frames in a segment file, in decode order, with the wall time the file and
    the index give each."""
    packets = stored(path)
    first_shown = min(p.pts for p in packets)
    frames = []
    for packet in packets:
        key = vcl_key(length_prefixed_nals(packet.data), recording.fmt.codec)
        assert key in recording.units, f"{path.name}: a frame the camera never sent"
        wall = segment.start_ms + (packet.pts - first_shown) * packet.seconds * 1000
        frames.append(Frame(wall, recording.units[key]))
    return frames


def absolute_numbers(frames: list[Frame], recording: Recording) -> list[int]:
    """Each frame's number since the epoch: scene time is Unix time (docs/ref/sim.md), so the
    loop index and the wall time together say which loop it came from."""
    fps, loop = recording.fmt.fps, recording.loop_frames
    numbers = []
    for frame in frames:
        estimate = frame.wall_ms / 1000 * fps
        loops = round((estimate - frame.number) / loop)
        number = loops * loop + frame.number
        numbers.append(number)
        assert abs(number / fps * 1000 - frame.wall_ms) <= PLACEMENT_TOLERANCE_MS, (
            f"frame {number} shown at {frame.wall_ms:.0f}, sent at {number / fps * 1000:.0f}"
        )
    return numbers


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_segments_cover_the_uptime_without_gaps(
    recordings: dict[str, Recording], profile: str, audio: bool
) -> None:
    recording = recordings[camera_name(profile, audio)]
    segments = recording.segments
    assert len(segments) >= SEGMENTS_WANTED
    for before, after in itertools.pairwise(segments):
        assert after.start_ms == before.end_ms
        assert after.run_start_ms == before.run_start_ms
    for segment in segments[:-1]:
        assert SEGMENT_S * 1000 - 100 <= segment.duration_ms <= (SEGMENT_S + 2) * 1000 + 100
    # From the first keyframe after connecting (a GOP at most) to when it was stopped.
    gop_ms = recording.fmt.gop_s * 1000
    assert segments[0].start_ms - recording.connected_ms <= gop_ms + 2500
    assert recording.stopped_ms - segments[-1].end_ms <= 1000
    assert all(s.has_audio is audio for s in segments)
    # Online (from connecting) once video was recorded, and nothing else.
    assert recording.states == [CameraState.ONLINE]


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_every_segment_decodes_whole_in_presentation_order(
    recordings: dict[str, Recording], profile: str, audio: bool
) -> None:
    recording = recordings[camera_name(profile, audio)]
    layout = SegmentLayout(recording.data_dir)
    for segment in recording.segments:
        path = layout.absolute(segment.path)
        packet_pts = sorted(p.pts for p in stored(path))
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == ("hevc" if profile == "h265" else "h264")
            shown = [f.pts for f in container.decode(video=0)]
        # Every frame decoded, shown in order, each at the time its packet carries: the
        # composition offsets of the B-frames were kept.
        assert shown == packet_pts
        expected = segment.duration_ms / 1000 * recording.fmt.fps
        assert len(shown) == pytest.approx(expected, abs=1 + recording.fmt.bframes)


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_the_frames_in_the_files_are_the_frames_the_camera_sent(
    recordings: dict[str, Recording], profile: str, audio: bool
) -> None:
    recording = recordings[camera_name(profile, audio)]
    layout = SegmentLayout(recording.data_dir)
    numbers: list[int] = []
    for segment in recording.segments:
        frames = frames_of(layout.absolute(segment.path), segment, recording)
        numbers += sorted(absolute_numbers(frames, recording))
    # Each frame once, none missing, across every boundary. When the session stopped, the
    # B-frames shown before the last frames received had not arrived yet: only there may
    # some be missing.
    tail = recording.fmt.bframes + 1
    whole = numbers[:-tail] if tail > 1 else numbers
    assert whole == list(range(numbers[0], numbers[0] + len(whole)))
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_a_downloaded_segment_starts_at_zero(
    recordings: dict[str, Recording], profile: str, audio: bool, tmp_path: Path
) -> None:
    recording = recordings[camera_name(profile, audio)]
    layout = SegmentLayout(recording.data_dir)
    for segment in recording.segments[:2]:
        path = layout.absolute(segment.path)
        copy = tmp_path / "download.mp4"
        download_copy(path, copy)
        # The file itself keeps its place in the run (playback chains the files)...
        run_offset_s = (segment.start_ms - segment.run_start_ms) / 1000
        with av.open(str(path)) as container:
            assert container.start_time is not None
            assert container.start_time / 1e6 >= run_offset_s - 0.1
        # ... while the copy a user downloads is shown from 0, whole and with its sound.
        with av.open(str(copy)) as container:
            assert container.start_time == 0
            kinds = sorted(s.type for s in container.streams)
            frames = [f.pts for f in container.decode(video=0)]
        assert kinds == (["audio", "video"] if audio else ["video"])
        assert len(frames) == len(stored(path))
        duration = ffprobe_duration(copy)
        assert duration == pytest.approx(segment.duration_ms / 1000, abs=2.5 / recording.fmt.fps)


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_an_exported_clip_across_a_boundary_starts_at_zero(
    recordings: dict[str, Recording], profile: str, audio: bool, tmp_path: Path
) -> None:
    recording = recordings[camera_name(profile, audio)]
    first, second = indexed(recording.segments[:2])
    out = tmp_path / "clip.mp4"
    # From a keyframe of the first segment to the middle of the second.
    start_ms = first.start_ms + first.keyframes[-1].offset_ms
    end_ms = second.start_ms + second.duration_ms // 2
    result = export_clip([first, second], SegmentLayout(recording.data_dir), start_ms, end_ms, out)
    with av.open(str(out)) as container:
        assert container.start_time == 0
        shown = [f.pts for f in container.decode(video=0) if f.pts is not None]
    assert shown == sorted(shown)
    fps = recording.fmt.fps
    assert len(shown) == pytest.approx((end_ms - start_ms) / 1000 * fps, abs=2)
    assert result.first_ms == start_ms


def indexed(segments: list[NewSegment]) -> list[Segment]:
    """The segments as the index would list them (ids 1, 2, ...)."""
    fields = [f.name for f in dataclasses.fields(NewSegment)]
    return [
        Segment(**{name: getattr(s, name) for name in fields}, id=n)
        for n, s in enumerate(segments, start=1)
    ]


def ffprobe_duration(path: Path) -> float:
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(found.stdout)


@pytest.mark.parametrize(("profile", "audio"), CASES)
def test_a_player_crossing_segment_boundaries_decodes_every_frame(
    recordings: dict[str, Recording], profile: str, audio: bool
) -> None:
    """FFmpeg's HLS demuxer plays the recorder's own VOD playlist over the files, as a player
    would: each file's init section, then its fragments, one after the other."""
    recording = recordings[camera_name(profile, audio)]
    data_dir = recording.data_dir
    segments = indexed(recording.segments)
    uris = {s.id: SegmentLayout(data_dir).absolute(s.path) for s in segments}
    playlist = data_dir / f"{camera_name(profile, audio)}.m3u8"
    playlist.write_text(vod_playlist(segments, {k: str(v) for k, v in uris.items()}))
    packets = sum(len(stored(uris[s.id])) for s in segments)
    options = {"allowed_extensions": "ALL", "allowed_segment_extensions": "ALL"}
    with av.open(str(playlist), options=options) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == packets
