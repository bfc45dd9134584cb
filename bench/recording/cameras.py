"""The simulated cameras of a benchmark: 2 Mbps main streams of pre-encoded scenes.

Pre-encoded scenes (idle, motion) are served by copying packets, so the camera server stays
cheap and its cost is the same whoever records; the live `pattern` scene would encode on the
same two cores as the recorders being measured.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from sim import CameraSpec, SimCluster

SceneChoice = Literal["idle", "motion", "mixed"]
SCENE_CHOICES: tuple[SceneChoice, ...] = ("idle", "motion", "mixed")
USER = "bench"


@dataclass(frozen=True)
class Camera:
    """A camera both recorders are pointed at."""

    camera_id: str
    url: str  # without credentials
    user: str
    password: str

    @property
    def url_with_credentials(self) -> str:
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{self.user}:{self.password}@{rest}"


def camera_specs(count: int, scene: SceneChoice) -> list[CameraSpec]:
    """`mixed` alternates motion and idle. Cameras ask for credentials, as real ones do."""
    scenes = ["motion", "idle"] if scene == "mixed" else [scene]
    return [
        CameraSpec(
            name=f"cam{i + 1:02d}",
            scene=scenes[i % len(scenes)],
            user=USER,
            password=secrets.token_urlsafe(12),
        )
        for i in range(count)
    ]


def cameras_of(cluster: SimCluster) -> list[Camera]:
    """The running cluster's cameras, in order."""
    return [
        Camera(
            camera_id=name,
            url=camera.url("main", credentials=False),
            user=camera.spec.user or "",
            password=camera.spec.password or "",
        )
        for name, camera in cluster.cameras.items()
    ]
