"""The benchmark's one error: a run that cannot be measured honestly (a process died, a camera
never connected, the recorder did not stop cleanly)."""

from __future__ import annotations


class BenchError(Exception):
    pass
