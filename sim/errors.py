"""The simulator's error hierarchy.

Adapters (the ffmpeg encoder, the server subprocess) catch what the outside world raises and
re-raise one of these with `raise ... from exc`, so tests and the CLI handle a small, stable set.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error the simulator raises on purpose."""


class SpecError(SimError, ValueError):
    """A camera, scene or fault specification is invalid; the message names the field."""


class SceneEncodeError(SimError):
    """ffmpeg failed to encode a scene, or its output is not what the server needs."""


class ServerStartError(SimError):
    """The camera server process did not start, or did not report every camera ready in time."""


class ServerDiedError(SimError):
    """The camera server process exited while the cluster was in use."""
