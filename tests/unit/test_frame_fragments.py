"""One fMP4 fragment per frame: each frame alone, in order, and the whole decodes as the clip."""

from __future__ import annotations

import struct
from pathlib import Path

import av

from recorder.media.frame_fragments import FrameFragmenter, make_init, to_length_prefixed
from tests.conftest import ClipFactory


def test_annex_b_becomes_length_prefixed() -> None:
    annex_b = b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x01\x65abc\x00\x00"
    assert (
        to_length_prefixed(annex_b)
        == struct.pack(">I", 2) + b"\x09\xf0" + struct.pack(">I", 6) + b"\x65abc\x00\x00"
    )
    already = struct.pack(">I", 3) + b"\x65ab"
    assert to_length_prefixed(already) == already


def test_fragments_of_a_long_gop_clip_decode_frame_by_frame(
    make_clip: ClipFactory, tmp_path: Path
) -> None:
    clip = make_clip(seconds=6, audio=False, gop_s=4)  # latency must not depend on the GOP
    out = b""
    sizes: list[int] = []
    fragmenter = None
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            if fragmenter is None:
                init = make_init(video, bytes(packet), packet.pts, packet.time_base)
                assert init.codec.startswith("avc1.")
                fragmenter = FrameFragmenter(init, packet.time_base, 1 / 15)
                out += init.data
            fragment = fragmenter.fragment(
                bytes(packet), packet.pts, packet.dts, bool(packet.is_keyframe)
            )
            assert fragment is not None and fragment[4:8] == b"moof"
            sizes.append(len(fragment))
            out += fragment
    assert len(sizes) == 90  # a fragment for every frame, not one per GOP
    path = tmp_path / "joined.mp4"
    path.write_bytes(out)
    with av.open(str(path)) as joined:
        times = [frame.time for frame in joined.decode(video=0)]
    assert len(times) == 90
    assert times == sorted(times) and abs(times[-1] - 89 / 15) < 0.01
