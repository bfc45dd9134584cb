"""bench/recording/floor.py: the figures it derives from its windows."""

from __future__ import annotations

from bench.recording.floor import summarize


def window(round_: int, program: str, cost: float) -> dict[str, object]:
    return {"round": round_, "program": program, "cpu_s_per_stream_s": cost, "others_cores": 0.01}


def test_each_ratio_is_taken_against_ffmpeg_of_the_same_round() -> None:
    windows = [
        window(0, "ffmpeg", 0.004),
        window(0, "demux", 0.005),
        window(1, "demux", 0.010),  # a busy round: everything costs twice as much
        window(1, "ffmpeg", 0.008),
        window(2, "ffmpeg", 0.005),
        window(2, "demux", 0.004),
    ]
    result = summarize(1, 60.0, ["ffmpeg", "demux"], windows)
    assert result["cpu_s_per_stream_s"] == {"ffmpeg": 0.005, "demux": 0.005}
    # Per round 1.25, 1.25 and 0.8: the median is 1.25, where the medians' ratio would say 1.0.
    assert result["ratio_to_ffmpeg"] == {"demux": 1.25}
    assert result["rounds"] == 3 and result["others_cores_max"] == 0.01


def test_a_round_in_which_ffmpeg_spent_nothing_gives_no_ratio() -> None:
    windows = [window(0, "ffmpeg", 0.0), window(0, "demux", 0.003)]
    assert summarize(1, 4.0, ["ffmpeg", "demux"], windows)["ratio_to_ffmpeg"] == {"demux": None}
