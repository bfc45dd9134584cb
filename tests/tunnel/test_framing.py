"""Plaintext framing: large bodies split under 16 KiB and come back whole; bounds hold."""

from __future__ import annotations

import os

import pytest

from recorder.tunnel.errors import FramingError
from recorder.tunnel.framing import MAX_PLAINTEXT, Message, Reassembler, parse, split


def test_a_large_body_is_split_under_the_limit_and_reassembled() -> None:
    body = os.urandom(100_000)
    frames = list(split(Message({"k": "res", "id": "c1", "status": 200}, body)))
    assert len(frames) == 7
    assert all(len(frame) <= MAX_PLAINTEXT for frame in frames)
    reassembler = Reassembler()
    results = [reassembler.feed(frame) for frame in frames]
    assert results[:-1] == [None] * 6
    whole = results[-1]
    assert whole is not None
    assert whole.body == body
    assert whole.header == {"k": "res", "id": "c1", "status": 200}


def test_a_small_message_is_one_frame() -> None:
    frames = list(split(Message({"k": "sub"})))
    assert len(frames) == 1
    assert parse(frames[0]).kind == "sub"


def test_a_message_over_its_bound_is_refused() -> None:
    reassembler = Reassembler(max_message_bytes=40_000)
    frames = list(split(Message({"k": "req", "id": "c1"}, b"x" * 60_000)))
    with pytest.raises(FramingError, match="over 40000"):
        for frame in frames:
            reassembler.feed(frame)


def test_too_many_unfinished_messages_are_refused() -> None:
    reassembler = Reassembler(max_pending=2)
    for n in range(2):
        reassembler.feed(next(iter(split(Message({"k": "req", "id": f"c{n}"}, b"x" * 20_000)))))
    with pytest.raises(FramingError, match="unfinished"):
        reassembler.feed(next(iter(split(Message({"k": "req", "id": "c9"}, b"x" * 20_000)))))


@pytest.mark.parametrize(
    "frame", [b"", b"\x00", b"\x00\x05{}", b"\x00\x02{}", b'\x00\x0b{"k":"zz"}', b"\xff\xffxx"]
)
def test_garbage_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(FramingError):
        Reassembler().feed(frame)


def test_a_part_for_an_unknown_message_is_refused() -> None:
    frames = list(split(Message({"k": "req", "id": "c1"}, b"x" * 40_000)))
    with pytest.raises(FramingError, match="unknown message"):
        Reassembler().feed(frames[1])
