from __future__ import annotations

import pytest

from recorder.storage.keyframe_codec import pack_keyframes, unpack_keyframes
from recorder.storage.model import Keyframe


@pytest.mark.parametrize(
    "keyframes",
    [
        (),
        (Keyframe(0, 0),),
        tuple(Keyframe(i * 1000, 800 + i * 120_000) for i in range(10)),
        (Keyframe(0, 700), Keyframe(0, 700), Keyframe(2**40, 2**50)),  # repeats, huge values
    ],
)
def test_round_trip(keyframes: tuple[Keyframe, ...]) -> None:
    assert unpack_keyframes(pack_keyframes(keyframes)) == keyframes


def test_typical_table_is_compact() -> None:
    table = [Keyframe(i * 1000, 800 + i * 120_000) for i in range(10)]
    assert len(pack_keyframes(table)) <= 51


def test_out_of_order_table_is_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        pack_keyframes([Keyframe(1000, 10), Keyframe(500, 20)])


@pytest.mark.parametrize("blob", [b"", b"\x02\x00\x00", b"\x01\x80", b"\x01\x05"])
def test_damaged_blob_is_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_keyframes(blob)
