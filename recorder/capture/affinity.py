"""Keeping the recording threads on one CPU.

Every recording session runs a reader and a session thread, and the readers hand the GIL to
each other several times per packet (PyAV releases it around every FFmpeg call). When those
threads sit on different CPUs, each hand-off wakes another core: an inter-processor interrupt,
and in a virtual machine an exit to the hypervisor. Kept on one CPU, the hand-offs stay local;
on the 16-camera benchmark that cut the recorder's CPU by about 15 % (docs/design/capture.md,
Cost). Recording needs a small share of one core (about 0.06 cores for 16 cameras), so one CPU
has room for it even when other work uses the same core; the kernel still shares that core
fairly with everything else. Motion detection, which decodes, is not pinned.

`[capture].cpu` chooses: "auto" (the highest-numbered CPU the recorder may use, away from
CPU 0, which takes most interrupts), "none", or a CPU number.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (empty where the platform cannot tell)."""
    getter = getattr(os, "sched_getaffinity", None)
    return set(getter(0)) if getter is not None else set()


def choose_cpu(setting: int | str) -> int | None:
    """The CPU the recording threads will share, or None to leave them to the kernel.

    Call it from a thread that is not pinned (the event loop's): it reads the caller's
    affinity as the set to choose from."""
    if setting == "none":
        return None
    cpus = allowed_cpus()
    if len(cpus) < 2:
        return None  # nothing to keep apart
    if setting == "auto":
        return max(cpus)
    if isinstance(setting, int) and setting in cpus:
        return setting
    log.warning("capture.cpu = %r is not a CPU the recorder may use; not pinning", setting)
    return None


def pin_current_thread(cpu: int | None) -> None:
    """Keep the calling thread (only it: Linux applies affinity per thread) on `cpu`."""
    if cpu is None:
        return
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # a CPU taken offline, or a container that forbids it
        log.warning("cannot keep a capture thread on CPU %d: %s", cpu, exc)
