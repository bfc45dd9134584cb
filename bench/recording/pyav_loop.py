"""The least a recorder built on PyAV does, as a program to measure (bench/recording/floor.py).

    python -m bench.recording.pyav_loop {demux,mux} --out DIR URL [URL ...]

One thread per camera reads it through the recorder's own opener (recorder/capture/opener.py:
the same FFmpeg options, the same demux loop). `demux` throws every packet away. `mux` also
copies them into 10 s fMP4 files cut at keyframes, with the recorder's muxer options, and does
nothing else: no wall clock, no index, no live view, no fsync. It runs until it is killed; a
camera that fails ends it with status 1, so a broken loop is never measured as a cheap one.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av

from recorder.capture.opener import PyAVStreamOpener
from recorder.capture.segment_writer import MUXER_OPTIONS

MODES = ("demux", "mux")
SEGMENT_S = 10


def demux(url: str) -> None:
    stream = PyAVStreamOpener().open(url)
    for _packet in stream.packets():
        pass
    raise RuntimeError(f"{url}: the stream ended")


def mux(url: str, out_dir: Path) -> None:
    stream = PyAVStreamOpener().open(url)
    video, audio = stream.video, stream.audio
    out_dir.mkdir(parents=True, exist_ok=True)
    output: Any = None
    tracks: dict[Any, Any] = {}
    started = 0.0
    files = 0
    for packet in stream.packets():
        if packet.stream is video and packet.is_keyframe and packet.pts is not None:
            at = float(packet.pts * video.time_base)
            if output is None or at - started >= SEGMENT_S:
                if output is not None:
                    output.close()
                path = out_dir / f"{files:05d}.mp4"
                output = av.open(str(path), "w", format="mp4", options=MUXER_OPTIONS)
                tracks = {video: output.add_stream_from_template(video)}
                if audio is not None:
                    tracks[audio] = output.add_stream_from_template(audio)
                started, files = at, files + 1
        if output is None:
            continue  # nothing before the first keyframe
        packet.stream = tracks[packet.stream]
        output.mux_one(packet)
    raise RuntimeError(f"{url}: the stream ended")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recording.pyav_loop", description=__doc__
    )
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--out", type=Path, required=True, help="where `mux` writes")
    parser.add_argument("urls", nargs="+", metavar="URL")
    args = parser.parse_args(argv)
    failures: queue.Queue[BaseException] = queue.Queue()

    def camera(index: int, url: str) -> None:
        try:
            if args.mode == "demux":
                demux(url)
            else:
                mux(url, args.out / f"cam{index + 1:02d}")
        except BaseException as exc:  # reported, then the program ends
            failures.put(exc)

    for index, url in enumerate(args.urls):
        threading.Thread(target=camera, args=(index, url), daemon=True).start()
    print(f"pyav_loop: {failures.get()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
