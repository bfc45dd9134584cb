"""Measuring processes with psutil: CPU over a window, peak memory sampled in the background.

CPU is user + system time of the watched processes and their live children, read at the two
ends of a window. Memory is sampled every `interval_s` in a thread of the benchmark itself, so
the sampling never counts against what it measures. Alongside, the machine's busy time over
the same window tells whether something else (tests, another benchmark) was competing.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

MB = 1024 * 1024
SAMPLE_INTERVAL_S = 0.5


def _tree(process: Any) -> list[Any]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: Iterable[Any]) -> float:
    """User + system CPU seconds of the processes and their live children."""
    total = 0.0
    for root in processes:
        for process in _tree(root):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def _machine_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy (all cores) and stolen by the hypervisor, since
    boot. Guest time is already inside user time on Linux, so it is not added again."""
    times = psutil.cpu_times()
    busy = times.user + times.nice + times.system
    busy += getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    return float(busy), float(getattr(times, "steal", 0.0))


@dataclass(frozen=True)
class Window:
    """What a measured window cost: the target, the camera server, and everyone else."""

    wall_s: float
    cpu_s: float  # the measured processes
    sim_cpu_s: float  # the simulated cameras' server
    bench_cpu_s: float  # this benchmark process (samplers, waits)
    machine_busy_s: float  # every process on the machine, all cores
    steal_s: float  # taken by the hypervisor from this virtual machine

    @property
    def others_cores(self) -> float:
        """Cores used by processes other than the target, the sim and the benchmark: noise."""
        rest = self.machine_busy_s - self.cpu_s - self.sim_cpu_s - self.bench_cpu_s
        return max(rest, 0.0) / self.wall_s


def measure_window(
    targets: Callable[[], list[Any]], sim: Any, seconds: float, check: Callable[[], None]
) -> Window:
    """Sleep `seconds` and return the CPU that each party spent meanwhile. `check` runs every
    second and raises if a target died, so a crash is not measured as a cheap run."""
    me = psutil.Process(os.getpid())
    start = (
        time.monotonic(),
        cpu_seconds(targets()),
        cpu_seconds([sim]),
        cpu_seconds([me]),
        *_machine_seconds(),
    )
    deadline = start[0] + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))
        check()
    end = (
        time.monotonic(),
        cpu_seconds(targets()),
        cpu_seconds([sim]),
        cpu_seconds([me]),
        *_machine_seconds(),
    )
    return Window(*(b - a for a, b in zip(start, end, strict=True)))


@dataclass(frozen=True)
class MemoryPeak:
    rss_mb: float  # the largest sum of resident set sizes seen at one sample
    pss_mb: float  # the same with shared pages divided among their users (fair across processes)


class MemorySampler:
    """Samples the summed RSS and PSS of some processes in a thread until stopped."""

    def __init__(self, processes: Callable[[], list[Any]], interval_s: float = SAMPLE_INTERVAL_S):
        self._processes = processes
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._rss = 0
        self._pss = 0

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> MemoryPeak:
        return MemoryPeak(round(self._rss / MB, 1), round(self._pss / MB, 1))

    def sample(self) -> None:
        rss = pss = 0
        for root in self._processes():
            for process in _tree(root):
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    info = process.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
        self._rss = max(self._rss, rss)
        self._pss = max(self._pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval_s)


@dataclass(frozen=True)
class Usage:
    """What recording `streams` cameras cost over one measured window."""

    streams: int
    window_s: float
    startup_s: float  # from launch until every camera was writing
    cpu_s: float
    cpu_s_per_stream_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    sim_cpu_s_per_stream_s: float
    others_cores: float
    steal_cores: float

    @property
    def noise_cores(self) -> float:
        """Cores taken by other processes or the hypervisor during the window."""
        return self.others_cores + self.steal_cores

    def to_json(self) -> dict[str, Any]:
        """The fields in the order the report shows them (headline figures first)."""
        return {
            "cpu_s_per_stream_s": self.cpu_s_per_stream_s,
            "peak_rss_mb": self.peak_rss_mb,
            "peak_pss_mb": self.peak_pss_mb,
            "cpu_s": self.cpu_s,
            "window_s": self.window_s,
            "startup_s": self.startup_s,
            "sim_cpu_s_per_stream_s": self.sim_cpu_s_per_stream_s,
            "others_cores": self.others_cores,
            "steal_cores": self.steal_cores,
        }


def usage(streams: int, window: Window, peak: MemoryPeak, startup_s: float) -> Usage:
    stream_s = streams * window.wall_s
    return Usage(
        streams=streams,
        window_s=round(window.wall_s, 2),
        startup_s=round(startup_s, 2),
        cpu_s=round(window.cpu_s, 3),
        cpu_s_per_stream_s=round(window.cpu_s / stream_s, 5),
        peak_rss_mb=peak.rss_mb,
        peak_pss_mb=peak.pss_mb,
        sim_cpu_s_per_stream_s=round(window.sim_cpu_s / stream_s, 5),
        others_cores=round(window.others_cores, 3),
        steal_cores=round(window.steal_s / window.wall_s, 3),
    )


def wait_for_quiet(sim: Any, max_cores: float, timeout_s: float, probe_s: float = 2.0) -> float:
    """Wait (at most `timeout_s`) until processes other than the camera server use fewer than
    `max_cores` over `probe_s`; returns the cores last seen in use."""
    deadline = time.monotonic() + timeout_s
    while True:
        busy, sim_cpu = _machine_seconds()[0], cpu_seconds([sim])
        time.sleep(probe_s)
        others = (_machine_seconds()[0] - busy - (cpu_seconds([sim]) - sim_cpu)) / probe_s
        if others < max_cores or time.monotonic() > deadline:
            return others
