"""Simulated RTSP cameras for tests, benchmarks and demos (`skycam sim`). See docs/ref/sim.md.

The public names below load on first use, so `skycam <any command>`, which imports `sim.cli` to
build its parser, does not pay for the whole package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.cluster import SimCamera, SimCluster
    from sim.errors import (
        SceneEncodeError,
        ServerDiedError,
        ServerStartError,
        SimError,
        SpecError,
    )
    from sim.formats import MAIN_FORMAT, SUB_FORMAT, StreamFormat
    from sim.ground_truth import Box, BrightnessStep, GroundTruth, MotionInterval
    from sim.scenes import (
        IdleScene,
        LightsScene,
        LightStep,
        MotionPass,
        MotionScene,
        PatternScene,
        Scene,
        scene_from_name,
    )
    from sim.spec import CameraSpec, Fault

_HOMES = {
    "sim.cluster": ("SimCamera", "SimCluster"),
    "sim.errors": (
        "SceneEncodeError",
        "ServerDiedError",
        "ServerStartError",
        "SimError",
        "SpecError",
    ),
    "sim.formats": ("MAIN_FORMAT", "SUB_FORMAT", "StreamFormat"),
    "sim.ground_truth": ("Box", "BrightnessStep", "GroundTruth", "MotionInterval"),
    "sim.scenes": (
        "IdleScene",
        "LightStep",
        "LightsScene",
        "MotionPass",
        "MotionScene",
        "PatternScene",
        "Scene",
        "scene_from_name",
    ),
    "sim.spec": ("CameraSpec", "Fault"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "MAIN_FORMAT",
    "SUB_FORMAT",
    "Box",
    "BrightnessStep",
    "CameraSpec",
    "Fault",
    "GroundTruth",
    "IdleScene",
    "LightStep",
    "LightsScene",
    "MotionInterval",
    "MotionPass",
    "MotionScene",
    "PatternScene",
    "Scene",
    "SceneEncodeError",
    "ServerDiedError",
    "ServerStartError",
    "SimCamera",
    "SimCluster",
    "SimError",
    "SpecError",
    "StreamFormat",
    "scene_from_name",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
