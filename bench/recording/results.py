"""Putting runs together: one ours/ffmpeg pair per repeat, medians per camera count, a table.

Headline figures are medians over the repeats; correctness figures are the worst case: packets
lost are summed over runs (0 means 0 in every run) and `sustained` holds only if every run was.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bench.recording.ffmpeg_baseline import FfmpegRun
from bench.recording.ours import OursRun

Order = Literal["ours-first", "ffmpeg-first"]
T = TypeVar("T")


@dataclass(frozen=True)
class PairRun:
    """Our recorder and ffmpeg, one after the other, on the same cameras."""

    ours: OursRun
    ffmpeg: FfmpegRun
    order: Order
    attempts: tuple[int, int] = (1, 1)  # passes run (ours, ffmpeg): more when one was noisy

    @property
    def cpu_ratio(self) -> float:
        return self.ours.usage.cpu_s_per_stream_s / self.ffmpeg.usage.cpu_s_per_stream_s

    @property
    def sim_cpu_s_per_stream_s(self) -> float:
        """The camera server's cost over both windows (each weighted by its length)."""
        a, b = self.ours.usage, self.ffmpeg.usage
        sim_s = a.sim_cpu_s_per_stream_s * a.window_s + b.sim_cpu_s_per_stream_s * b.window_s
        return sim_s / (a.window_s + b.window_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "attempts": {"ours": self.attempts[0], "ffmpeg": self.attempts[1]},
            "ours": self.ours.to_json(),
            "ffmpeg": self.ffmpeg.to_json(),
            "cpu_ratio": round(self.cpu_ratio, 3),
            "packets_lost": self.ours.packets.lost,
            "sim_cpu_s_per_stream_s": round(self.sim_cpu_s_per_stream_s, 5),
            "sustained": self.ours.sustained,
        }


def _median(runs: Sequence[PairRun], value: Callable[[PairRun], float]) -> float:
    return float(statistics.median(value(run) for run in runs))


def _median_count(runs: Sequence[PairRun], value: Callable[[PairRun], int]) -> int:
    return round(statistics.median(value(run) for run in runs))


@dataclass(frozen=True)
class CountResult:
    """Every repeat for one number of cameras."""

    cameras: int
    seconds: float
    runs: tuple[PairRun, ...]

    @property
    def ours_cpu(self) -> float:
        return _median(self.runs, lambda r: r.ours.usage.cpu_s_per_stream_s)

    @property
    def ffmpeg_cpu(self) -> float:
        return _median(self.runs, lambda r: r.ffmpeg.usage.cpu_s_per_stream_s)

    @property
    def cpu_ratio(self) -> float:
        return self.ours_cpu / self.ffmpeg_cpu

    @property
    def packets_lost(self) -> int:
        return sum(run.ours.packets.lost for run in self.runs)

    @property
    def packets_skipped(self) -> int:
        return sum(run.ours.packets.skipped for run in self.runs)

    @property
    def sustained(self) -> bool:
        return all(run.ours.sustained for run in self.runs)

    @property
    def others_cores_max(self) -> float:
        windows = [u for r in self.runs for u in (r.ours.usage, r.ffmpeg.usage)]
        return max(u.noise_cores for u in windows)

    def to_json(self) -> dict[str, Any]:
        runs = self.runs
        return {
            "cameras": self.cameras,
            "seconds": self.seconds,
            "repeat": len(runs),
            "ours": {
                "cpu_s_per_stream_s": round(self.ours_cpu, 5),
                "peak_rss_mb": _median(runs, lambda r: r.ours.usage.peak_rss_mb),
                "peak_pss_mb": _median(runs, lambda r: r.ours.usage.peak_pss_mb),
                "packets_received": _median_count(runs, lambda r: r.ours.packets.received),
                "packets_written": _median_count(runs, lambda r: r.ours.packets.written),
                "packets_skipped": _median_count(runs, lambda r: r.ours.packets.skipped),
                "segments": _median_count(runs, lambda r: r.ours.segments),
                "segments_per_camera": _fewest(r.ours.segments_per_camera for r in runs),
                "reconnects": sum(r.ours.reconnects for r in runs),
            },
            "ffmpeg": {
                "cpu_s_per_stream_s": round(self.ffmpeg_cpu, 5),
                "peak_rss_mb": _median(runs, lambda r: r.ffmpeg.usage.peak_rss_mb),
                "peak_pss_mb": _median(runs, lambda r: r.ffmpeg.usage.peak_pss_mb),
                "segments": _median_count(runs, lambda r: r.ffmpeg.segments),
                "segments_per_camera": _fewest(r.ffmpeg.segments_per_camera for r in runs),
            },
            "cpu_ratio": round(self.cpu_ratio, 3),
            "packets_lost": self.packets_lost,
            "packets_skipped": self.packets_skipped,
            "sustained": self.sustained,
            "sim_cpu_s_per_stream_s": round(_median(runs, lambda r: r.sim_cpu_s_per_stream_s), 5),
            "others_cores_max": round(self.others_cores_max, 3),
            "runs": [run.to_json() for run in runs],
        }


def _fewest(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Per camera, the fewest segments any run wrote."""
    fewest: dict[str, int] = {}
    for per_camera in counts:
        for camera, count in per_camera.items():
            fewest[camera] = min(count, fewest.get(camera, count))
    return fewest


HEADER = (
    f"{'cams':>4}  {'ours cpu':>9}  {'ffmpeg cpu':>10}  {'ratio':>5}  "
    f"{'ours RSS':>8}  {'ffm RSS/PSS':>11}  {'lost':>4}  {'skipped':>7}  "
    f"{'sustained':>9}  {'sim cpu':>8}  {'noise':>5}"
)


def table(results: Sequence[CountResult]) -> str:
    """Medians per camera count; CPU in CPU-seconds per stream-second, memory in MB, noise in
    cores used by other processes during the worst window."""
    lines = [HEADER]
    for result in results:
        summary = result.to_json()
        ours, ffmpeg = summary["ours"], summary["ffmpeg"]
        lines.append(
            f"{result.cameras:>4}  {ours['cpu_s_per_stream_s']:>9.4f}  "
            f"{ffmpeg['cpu_s_per_stream_s']:>10.4f}  {summary['cpu_ratio']:>5.2f}  "
            f"{ours['peak_rss_mb']:>8.0f}  "
            f"{ffmpeg['peak_rss_mb']:>5.0f}/{ffmpeg['peak_pss_mb']:<5.0f}  "
            f"{summary['packets_lost']:>4}  {summary['packets_skipped']:>7}  "
            f"{'yes' if result.sustained else 'NO':>9}  "
            f"{summary['sim_cpu_s_per_stream_s']:>8.4f}  {summary['others_cores_max']:>5.2f}"
        )
    return "\n".join(lines)
