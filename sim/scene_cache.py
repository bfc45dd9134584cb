"""Scripted scenes are encoded once, with ffmpeg, into a cache keyed by everything that shapes them.

A cache entry is a folder `<kind>-<hash>/` holding `main.h264` and `sub.h264` (Annex-B, one AUD per
access unit, in decode order; `.h265` for H.265 profiles), for a stream with B-frames its
presentation order `main.order.json`, their ground truth `main.json` and `sub.json`, and
`scene.json` (the parameters that were hashed). Entries are built in a temporary folder and
renamed into place, so concurrent test runs never see half an entry, and a hit costs two small
JSON reads.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sim import bitstream
from sim.errors import SceneEncodeError
from sim.filtergraph import scene_graph
from sim.formats import StreamFormat
from sim.ground_truth import GroundTruth, compute_ground_truth
from sim.scenes import ScriptedScene

# Bump when encoding changes in a way the parameters, the graph and the x264 arguments do not show.
ENCODING_VERSION = 1
CACHE_ENV = "SKYCAM_SIM_CACHE"
AUDIO_SECONDS = 10
AUDIO_RATE = 16_000

# One thread, in the encoder and the filter graph: with frame threads and VBV rate control x264's
# output differed from one encode of the same scene to the next (and one such encode put a pixel
# of change outside the ground truth's box): a scene must be the same file on every machine.
# No B-frames and a fixed one-second GOP without scene cuts (-g/-keyint_min = fps, added per
# stream): PTS = index / fps and every GOP starts with an IDR. repeat-headers puts SPS/PPS in every
# IDR; aud=1 marks each access unit so the server can split the file without parsing slices.
X264_ARGS = (
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
    "-bf", "0", "-sc_threshold", "0", "-x264-params", "repeat-headers=1:aud=1", "-threads", "1",
)  # fmt: skip
# H.264 High with B-frames (as pyramid, x264's default): closed GOPs, so each loop of whole GOPs
# still starts on an IDR and decodes on its own.
X264_HIGH_ARGS = (
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
    "-sc_threshold", "0", "-x264-params", "repeat-headers=1:aud=1:open-gop=0", "-threads", "1",
)  # fmt: skip
X265_ARGS = ("-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1")
AAC_ARGS = ("-c:a", "aac", "-b:a", "32k", "-ac", "1")


def resolve_cache_dir(explicit: Path | None, environ: Mapping[str, str]) -> Path:
    """`explicit` if given, else $SKYCAM_SIM_CACHE, else ~/.cache/skycam/scenes."""
    if explicit is not None:
        return explicit.expanduser()
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "skycam" / "scenes"


@dataclass(frozen=True)
class EncodedScene:
    scene: ScriptedScene
    directory: Path
    main_video: Path
    sub_video: Path
    main_truth: GroundTruth
    sub_truth: GroundTruth


class SceneEncoder(Protocol):
    """Renders and encodes media files. `settings` is part of every cache key."""

    @property
    def settings(self) -> dict[str, Any]: ...

    def encode_video(
        self, graph: str, outputs: list[tuple[StreamFormat, Path]], frames: int
    ) -> None:
        """Run the -filter_complex `graph`; output i goes to outputs[i] as Annex-B H.264."""

    def encode_audio(self, path: Path, seconds: int, sample_rate: int) -> None:
        """Write an ADTS AAC clip of `seconds` of tone and noise."""


class FfmpegEncoder:
    """The real encoder: /usr/bin/ffmpeg with libx264 and its native AAC encoder."""

    def __init__(self, ffmpeg: str = "/usr/bin/ffmpeg", timeout_s: float = 600.0) -> None:
        self._ffmpeg = ffmpeg
        self._timeout_s = timeout_s

    @property
    def settings(self) -> dict[str, Any]:
        # Only the plain encoder's arguments: they are in every cache key, and the profiles'
        # arguments reach the keys through the formats' own fields.
        return {"x264": X264_ARGS, "aac": AAC_ARGS}

    @staticmethod
    def _video_args(fmt: StreamFormat) -> list[str]:
        rate = f"{fmt.bitrate_kbps}k"
        gop = str(fmt.gop)
        rate_args = ["-b:v", rate, "-maxrate", rate, "-bufsize", rate]
        if fmt.codec == "h265":
            params = (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:bframes={fmt.bframes}"
                ":repeat-headers=1:aud=1:log-level=error"
            )
            return [*X265_ARGS, *rate_args, "-x265-params", params]
        gop_args = ["-g", gop, "-keyint_min", gop]
        if fmt.bframes:
            return [*X264_HIGH_ARGS, "-bf", str(fmt.bframes), *gop_args, *rate_args]
        return [*X264_ARGS, *gop_args, *rate_args]

    def encode_video(
        self, graph: str, outputs: list[tuple[StreamFormat, Path]], frames: int
    ) -> None:
        labels = ["main", "sub"][: len(outputs)]  # the graph's output pads (see filtergraph)
        args = [self._ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        args += ["-filter_complex_threads", "1", "-filter_complex", graph]
        for label, (fmt, path) in zip(labels, outputs, strict=True):
            # With B-frames the elementary stream alone does not say in which order frames are
            # shown: the same packets also go to a framecrc listing, which keeps their PTS.
            muxer = "hevc" if fmt.codec == "h265" else "h264"
            target = ["-f", muxer, str(path)]
            if fmt.bframes:
                crc = path.with_suffix(".crc")
                target = ["-f", "tee", f"[f={muxer}]{path}|[f=framecrc]{crc}"]
            args += ["-map", f"[{label}]", *self._video_args(fmt), *target]
        self._run(args)
        for fmt, path in outputs:
            if fmt.bframes:
                self._write_order(path, fmt)
            self._check_video(path, fmt, frames)

    @staticmethod
    def _write_order(path: Path, fmt: StreamFormat) -> None:
        """Each frame's presentation index, in decode order, from the framecrc listing beside
        `path`, into `order_path(path)`."""
        crc = path.with_suffix(".crc")
        num, den = 1, fmt.fps
        pts: list[int] = []
        for line in crc.read_text().splitlines():
            if line.startswith("#tb 0:"):
                num, den = (int(x) for x in line.split(":")[1].strip().split("/"))
            elif line and not line.startswith("#"):
                pts.append(int(line.split(",")[2]))
        order = [round((t - min(pts)) * num * fmt.fps / den) for t in pts]
        try:
            bitstream.check_presentation_order(order, fmt.gop)
        except ValueError as exc:
            raise SceneEncodeError(f"{path}: {exc}") from exc
        order_path(path).write_text(json.dumps(order) + "\n")
        crc.unlink()

    def encode_audio(self, path: Path, seconds: int, sample_rate: int) -> None:
        graph = (
            f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds},volume=0.25[tone];"
            f"anoisesrc=sample_rate={sample_rate}:amplitude=0.02:duration={seconds}[hiss];"
            "[tone][hiss]amix=inputs=2:normalize=0[a]"
        )
        args = [self._ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        args += ["-filter_complex", graph, "-map", "[a]", *AAC_ARGS]
        args += ["-ar", str(sample_rate), "-f", "adts", str(path)]
        self._run(args)
        try:
            bitstream.split_adts(path.read_bytes())
        except ValueError as exc:
            raise SceneEncodeError(f"{path}: ffmpeg wrote an unusable ADTS stream: {exc}") from exc

    def _run(self, args: list[str]) -> None:
        try:
            subprocess.run(args, check=True, capture_output=True, timeout=self._timeout_s)
        except FileNotFoundError as exc:
            raise SceneEncodeError(f"ffmpeg not found at {self._ffmpeg}") from exc
        except subprocess.TimeoutExpired as exc:
            raise SceneEncodeError(f"ffmpeg took more than {self._timeout_s:.0f} s") from exc
        except subprocess.CalledProcessError as exc:
            stderr = exc.stderr.decode(errors="replace").strip()[-2000:]
            raise SceneEncodeError(f"ffmpeg failed ({exc.returncode}): {stderr}") from exc

    @staticmethod
    def _check_video(path: Path, fmt: StreamFormat, frames: int) -> None:
        try:
            units = bitstream.split_access_units(path.read_bytes(), fmt.codec)
            bitstream.check_gop_structure(units, fmt.gop)
        except ValueError as exc:
            raise SceneEncodeError(f"{path}: {exc}") from exc
        if len(units) != frames:
            raise SceneEncodeError(f"{path}: {len(units)} frames, expected {frames}")


def video_name(mount: str, fmt: StreamFormat) -> str:
    return f"{mount}.{fmt.codec}"


def order_path(video: Path) -> Path:
    """Where the presentation order of a stream with B-frames is kept (absent without)."""
    return video.with_name(f"{video.stem}.order.json")


class SceneCache:
    def __init__(self, directory: Path, encoder: SceneEncoder | None = None) -> None:
        self.directory = directory
        self._encoder: SceneEncoder = encoder or FfmpegEncoder()

    def _key(self, params: dict[str, Any]) -> str:
        blob = json.dumps(
            {"version": ENCODING_VERSION, "encoder": self._encoder.settings, **params},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def scene(self, scene: ScriptedScene, main: StreamFormat, sub: StreamFormat) -> EncodedScene:
        """The encoded scene, from the cache or freshly encoded into it."""
        if main.fps != sub.fps:
            raise SceneEncodeError(f"main ({main.fps}) and sub ({sub.fps}) fps must be equal")
        for fmt in (main, sub):
            if scene.duration_s % fmt.gop_s:
                raise SceneEncodeError(
                    f"a {scene.duration_s} s scene is not a whole number of {fmt.gop_s} s GOPs"
                )
        graph = scene_graph(scene, main, sub)
        # The graph is hashed too, so a change in how scenes are drawn re-encodes them.
        params = {
            "scene": scene.params(),
            "main": main.cache_params(),
            "sub": sub.cache_params(),
            "graph": graph,
        }
        entry = self.directory / f"{scene.kind}-{self._key(params)}"
        if not (entry / "scene.json").exists():
            self._build(entry, params, lambda tmp: self._encode_scene(tmp, graph, scene, main, sub))
        return EncodedScene(
            scene=scene,
            directory=entry,
            main_video=entry / video_name("main", main),
            sub_video=entry / video_name("sub", sub),
            main_truth=GroundTruth.read(entry / "main.json"),
            sub_truth=GroundTruth.read(entry / "sub.json"),
        )

    def audio(self) -> Path:
        """The ADTS AAC clip cameras with audio loop on their main mount."""
        params = {"audio": {"seconds": AUDIO_SECONDS, "rate": AUDIO_RATE}}
        entry = self.directory / f"audio-{self._key(params)}"
        if not (entry / "scene.json").exists():
            self._build(
                entry,
                params,
                lambda tmp: self._encoder.encode_audio(
                    tmp / "audio.aac", AUDIO_SECONDS, AUDIO_RATE
                ),
            )
        return entry / "audio.aac"

    def _encode_scene(
        self, tmp: Path, graph: str, scene: ScriptedScene, main: StreamFormat, sub: StreamFormat
    ) -> None:
        outputs = [(main, tmp / video_name("main", main)), (sub, tmp / video_name("sub", sub))]
        self._encoder.encode_video(graph, outputs, scene.duration_s * main.fps)
        compute_ground_truth(scene, "main", main, main).write(tmp / "main.json")
        compute_ground_truth(scene, "sub", main, sub).write(tmp / "sub.json")

    def _build(self, entry: Path, params: dict[str, Any], fill: Callable[[Path], None]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=self.directory))
        try:
            fill(tmp)
            (tmp / "scene.json").write_text(json.dumps(params, indent=1, sort_keys=True) + "\n")
            try:
                tmp.rename(entry)
            except OSError:
                if not (entry / "scene.json").exists():  # not a concurrent twin: a real failure
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
