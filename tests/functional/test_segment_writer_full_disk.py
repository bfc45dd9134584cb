"""A segment whose writes fail with "no space left" on a real (tmpfs) filesystem: what was
written whole is kept and indexable, nothing truncated is left anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from recorder.capture.segment_writer import SegmentWriter
from recorder.errors import SegmentError
from recorder.storage.fmp4 import inspect_fmp4
from recorder.storage.layout import SegmentLayout
from tests.conftest import ClipFactory
from tests.small_fs import fill, small_filesystem

T0 = 1_700_000_000_000


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", 4 * 1024 * 1024) as mounted:
        yield mounted


def write_until_full(clip: Path, layout: SegmentLayout) -> tuple[SegmentWriter, int]:
    """Mux the clip into one segment until a write fails; returns the writer and the packets
    the muxer accepted."""
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        writer = SegmentWriter(layout, "cam1", video, None, T0, zero_s=0)
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            try:
                writer.write(packet, writer.video_track, packet.pts, packet.dts)
            except SegmentError as exc:
                assert "No space left" in str(exc)
                return writer, writer.packets
        raise AssertionError("the disk never filled: the clip is too small for the test")


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != "filler"]


def test_a_segment_cut_short_by_a_full_disk_keeps_its_whole_fragments(
    disk: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=12, size="1280x720", audio=False)
    layout = SegmentLayout(disk / "data")
    layout.root.mkdir(parents=True)
    fill(disk / "filler", leave_bytes=600_000)  # another program took all but ~0.6 MB
    writer, accepted = write_until_full(clip, layout)
    assert accepted > 15  # more than a second went in before the disk filled

    segment = writer.finish(T0, T0, T0 + 12_000)

    final = layout.absolute(segment.path)
    assert leftovers(disk) == [final]  # no .partial, no other file
    facts = inspect_fmp4(final)
    assert facts.complete and facts.size == segment.bytes == final.stat().st_size
    assert segment.end_ms - segment.start_ms == facts.duration_ms < 12_000
    assert len(segment.keyframes) == facts.fragments >= 1
    with av.open(str(final)) as container:  # it plays: every frame of it decodes
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == pytest.approx(facts.duration_ms / 1000 * 15, abs=1)


def test_nothing_is_left_when_not_one_fragment_was_written_whole(
    disk: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=4, size="1280x720", audio=False)
    layout = SegmentLayout(disk / "data")
    layout.root.mkdir(parents=True)
    fill(disk / "filler", leave_bytes=0)
    writer, _ = write_until_full(clip, layout)
    with pytest.raises(SegmentError, match="nothing complete"):
        writer.finish(T0, T0, T0 + 4_000)
    assert leftovers(disk) == []
