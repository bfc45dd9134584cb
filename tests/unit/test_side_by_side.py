"""bench/recording: the command's argument checks and the figures side by side derives."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.recording.cli import build_parser, settle
from bench.recording.side_by_side import parse_tree, summarize

REPO = Path(__file__).resolve().parents[2]


def test_a_tree_is_a_named_checkout_with_a_recorder() -> None:
    assert parse_tree(f"now={REPO}") == ("now", REPO)


@pytest.mark.parametrize("text", ["now", f"={REPO}", f"ffmpeg={REPO}", "now=/nonexistent"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_tree(text)


def test_ratios_are_medians_of_per_window_ratios_not_ratios_of_medians() -> None:
    rows = [
        {"ffmpeg": 0.050, "now": 0.055},
        {"ffmpeg": 0.100, "now": 0.130},
        {"ffmpeg": 0.040, "now": 0.060},
    ]
    result = summarize(rows)
    assert result["median_cores"] == {"ffmpeg": 0.05, "now": 0.06}
    # Per window 1.1, 1.3 and 1.5: the median is 1.3, where the medians' ratio would say 1.2.
    assert result["median_ratio_to_ffmpeg"] == {"now": 1.3}
    assert len(result["windows"]) == 3


def test_a_window_in_which_ffmpeg_spent_nothing_gives_no_ratio() -> None:
    # psutil counts in 10 ms ticks: a smoke run's 4 s window may see none of ffmpeg's CPU.
    rows = [{"ffmpeg": 0.0, "now": 0.01}, {"ffmpeg": 0.02, "now": 0.03}]
    assert summarize(rows)["median_ratio_to_ffmpeg"] == {"now": 1.5}
    assert summarize(rows[:1])["median_ratio_to_ffmpeg"] == {"now": None}


@pytest.mark.parametrize(
    "argv",
    [
        ["--side-by-side"],  # nothing to compare
        ["--tree", f"now={REPO}"],  # the passes measure this checkout only
        ["--floor", "--tree", f"demux={REPO}"],  # a name the floor uses itself
        ["--side-by-side", "--tree", f"a={REPO}", "--tree", f"a={REPO}"],
        ["--side-by-side", "--floor", "--tree", f"now={REPO}"],
    ],
)
def test_the_recording_command_refuses_what_it_cannot_measure(argv: list[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        settle(parser.parse_args(argv), parser)


def test_smoke_is_one_camera_and_short_windows_in_every_mode() -> None:
    parser = build_parser()
    for argv in (["--smoke"], ["--smoke", "--side-by-side"], ["--smoke", "--floor"]):
        args = parser.parse_args(argv)
        settle(args, parser)
        assert args.cameras == [1] and args.seconds == 4.0 and args.max_noise == float("inf")
    args = parser.parse_args(["--smoke", "--side-by-side"])
    settle(args, parser)
    assert args.tree == [("now", REPO)]
