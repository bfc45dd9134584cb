"""The API benchmark's figures: samples per repeat, medians, targets, the table and the JSON.

A figure's headline value is the median over repeats of each repeat's median, so one noisy
repeat moves it less than pooling every sample would; every sample is kept in the JSON.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class Figure:
    key: str  # the JSON key; its suffix is the unit (_ms or _s)
    label: str
    target: float | None  # at most this, in the key's unit
    headline: bool = True  # one of the figures (top level of the JSON)


FIGURES = (
    Figure("timeline_ms", "timeline, one camera-day (auto: 1,440 minute buckets)", 50),
    Figure("timeline_hour_ms", "  same day, hour buckets", 50, False),
    Figure("playlist_ms", "playlist, one hour (360 segments)", 100),
    Figure("seek_ms", "seek to a random instant", 50),
    Figure("seek_playlist_ms", "  seek with playlist_start an hour earlier", 50, False),
    Figure("clip_1min_s", "clip of 1 min, POST to ready", None),
    Figure("clip_10min_s", "clip of 10 min, POST to ready", 2),
    Figure("snapshot_ms", "snapshot, offline camera (last segment)", 300),
    Figure("snapshot_live_ms", "  snapshot, live camera (latest keyframe)", 300, False),
    Figure("live_start_s", "live start: playlist + init + first segment", 2),
    Figure("live_latency_s", "live latency, segment's first frame", 2),
    Figure("live_latency_last_s", "  live latency, segment's last frame", 2, False),
    Figure("live_latency_stamp_s", "  first frame, from the recorder's stamp", 2, False),
)
BY_KEY = {f.key: f for f in FIGURES}


@dataclass
class Results:
    """Samples of each figure, one list per repeat, in the figure's unit."""

    samples: dict[str, list[list[float]]] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)  # first request after start
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, repeat: int, value: float) -> None:
        if key not in BY_KEY:
            raise KeyError(key)
        runs = self.samples.setdefault(key, [])
        while len(runs) <= repeat:
            runs.append([])
        runs[repeat].append(value)

    def repeat_medians(self, key: str) -> list[float]:
        return [statistics.median(run) for run in self.samples.get(key, []) if run]

    def value(self, key: str) -> float | None:
        medians = self.repeat_medians(key)
        return statistics.median(medians) if medians else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for figure in FIGURES:
            if figure.headline:
                out[figure.key] = _round(self.value(figure.key))
        out["extra"] = {f.key: _round(self.value(f.key)) for f in FIGURES if not f.headline}
        out["targets"] = {f.key: f.target for f in FIGURES if f.target is not None}
        out["pass"] = {
            f.key: passed for f in FIGURES if (passed := _passed(f, self.value(f.key))) is not None
        }
        out["repeat_medians"] = {
            key: [_round(v) for v in self.repeat_medians(key)] for key in self.samples
        }
        out["samples"] = {
            key: [[_round(v) for v in run] for run in runs] for key, runs in self.samples.items()
        }
        out["cold_first_request"] = {k: _round(v) for k, v in self.cold.items()}
        out["setup"] = self.facts
        return out

    def table(self) -> str:
        rows = [("figure", "median", "target", "", "n", "min..max")]
        for figure in FIGURES:
            value = self.value(figure.key)
            if value is None:
                continue
            pooled = [v for run in self.samples[figure.key] for v in run]
            unit = "ms" if figure.key.endswith("_ms") else "s"
            target = "-" if figure.target is None else f"<= {_fmt(figure.target)} {unit}"
            verdict = {True: "pass", False: "FAIL", None: ""}[_passed(figure, value)]
            spread = f"{_fmt(min(pooled))}..{_fmt(max(pooled))}"
            rows.append(
                (figure.label, f"{_fmt(value)} {unit}", target, verdict, str(len(pooled)), spread)
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)


def _passed(figure: Figure, value: float | None) -> bool | None:
    if figure.target is None or value is None:
        return None
    return value <= figure.target


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 4 if abs(value) < 10 else 1)


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def machine() -> dict[str, Any]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        cpuinfo = []
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


class LoadWindow:
    """How busy the machine was over a phase, apart from the processes we account for: another
    engineer's tests on these two cores show here, and mean the figures are noisier."""

    def __init__(self) -> None:
        self._began = time.perf_counter()
        self._busy = _machine_busy()
        self._ours: dict[int, float] = {}

    def track(self, pids: Iterable[int]) -> None:
        """Count these processes (and their children) as ours, from now on."""
        for pid in pids:
            self._ours.setdefault(pid, _process_cpu(pid))

    def close(self) -> dict[str, float]:
        wall = time.perf_counter() - self._began
        busy = _machine_busy() - self._busy
        ours = sum(_process_cpu(pid) - began for pid, began in self._ours.items())
        return {
            "wall_s": round(wall, 1),
            "ours_cores": round(ours / wall, 2),
            "other_cores": round(max(busy - ours, 0.0) / wall, 2),
        }


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + getattr(times, "softirq", 0.0))


def _process_cpu(pid: int) -> float:
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total
