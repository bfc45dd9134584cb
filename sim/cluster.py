"""`SimCluster`: simulated RTSP cameras for tests, benchmarks and demos.

    with SimCluster([CameraSpec("cam1"), CameraSpec("cam2", "pattern", Fault.drop(20))]) as c:
        c.cameras["cam1"].main_url     # rtsp://127.0.0.1:PORT/main

Entering encodes any missing scene into the cache (a hit costs nothing), starts the camera server
and returns once every camera listens. Leaving always stops the server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from sim.errors import ServerStartError, SimError
from sim.formats import Mount
from sim.ground_truth import GroundTruth
from sim.scene_cache import SceneCache, SceneEncoder, resolve_cache_dir
from sim.scenes import PatternScene
from sim.server_config import PreparedCamera, server_config
from sim.server_process import SYSTEM_PYTHON, Event, ServerProcess
from sim.spec import CameraSpec


@dataclass(frozen=True)
class SimCamera:
    """A running simulated camera."""

    spec: CameraSpec
    host: str
    port: int
    ground_truth: GroundTruth | None  # of the main stream; None for the live pattern
    sub_ground_truth: GroundTruth | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def main_url(self) -> str:
        return self.url("main")

    @property
    def sub_url(self) -> str:
        return self.url("sub")

    def url(
        self,
        mount: Mount = "main",
        *,
        credentials: bool = True,
        user: str | None = None,
        password: str | None = None,
    ) -> str:
        """The RTSP URL of a mount, with the camera's credentials unless `credentials` is False;
        `user`/`password` override them (to test refusals)."""
        user = user if user is not None else self.spec.user
        password = password if password is not None else self.spec.password
        userinfo = ""
        if credentials and user is not None:
            userinfo = f"{quote(user, safe='')}:{quote(password or '', safe='')}@"
        return f"rtsp://{userinfo}{self.host}:{self.port}/{mount}"


class SimCluster:
    """N simulated cameras served by one GStreamer process.

    `cameras` maps each camera's name to its `SimCamera`, in the order of `specs`.
    `cache_dir` defaults to $SKYCAM_SIM_CACHE, else ~/.cache/skycam/scenes. `base_port` gives
    camera i the port base_port + i (a spec's own `port` wins); by default the system picks free
    ports. `start_timeout_s` bounds the wait for the server to report every camera ready.
    """

    def __init__(
        self,
        specs: Iterable[CameraSpec],
        *,
        cache_dir: Path | None = None,
        host: str = "127.0.0.1",
        base_port: int | None = None,
        start_timeout_s: float = 30.0,
        interpreter: str = SYSTEM_PYTHON,
        encoder: SceneEncoder | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.specs = tuple(specs)
        if not self.specs:
            raise SimError("a cluster needs at least one camera")
        self.host = host
        self.base_port = base_port
        self.start_timeout_s = start_timeout_s
        env = os.environ if environ is None else environ
        self.cache = SceneCache(resolve_cache_dir(cache_dir, env), encoder)
        self._server = ServerProcess(interpreter)
        self._cameras: dict[str, SimCamera] = {}

    @property
    def cameras(self) -> dict[str, SimCamera]:
        if not self._cameras:
            raise SimError("the cluster is not running: use `with SimCluster(...)` or start()")
        return self._cameras

    @property
    def server_pid(self) -> int:
        """The camera server's process id (to measure its CPU use)."""
        return self._server.pid

    def prepare(self) -> list[PreparedCamera]:
        """Encode what the cameras need into the cache (done by start(); callable on its own to
        warm the cache)."""
        prepared = []
        audio = self.cache.audio() if any(s.audio for s in self.specs) else None
        for spec in self.specs:
            scene = spec.scene_spec
            encoded = (
                None
                if isinstance(scene, PatternScene)
                else self.cache.scene(scene, spec.main, spec.sub)
            )
            prepared.append(PreparedCamera(spec, encoded, audio if spec.audio else None))
        return prepared

    def start(self) -> SimCluster:
        prepared = self.prepare()
        config = server_config(prepared, self.host, self.base_port)
        ready = self._server.start(config, self.start_timeout_s)
        ports = {c["name"]: int(c["port"]) for c in ready}
        if set(ports) != {p.spec.name for p in prepared}:
            self._server.stop()
            raise ServerStartError(f"server reported cameras {sorted(ports)}, not the ones asked")
        self._cameras = {
            p.spec.name: SimCamera(
                spec=p.spec,
                host=self.host,
                port=ports[p.spec.name],
                ground_truth=None if p.encoded is None else p.encoded.main_truth,
                sub_ground_truth=None if p.encoded is None else p.encoded.sub_truth,
            )
            for p in prepared
        }
        return self

    def stop(self) -> None:
        self._server.stop()
        self._cameras = {}

    def check_alive(self) -> None:
        """Raise ServerDiedError if the camera server has exited."""
        self._server.check_alive()

    def events(self) -> list[Event]:
        """What the server reported so far: `media` (a mount started streaming), `drop`
        (clients disconnected), `stall` and `resume`; each a dict with "event" and "camera"."""
        return self._server.events()

    def wait_for_event(self, predicate: Callable[[Event], bool], timeout_s: float) -> Event | None:
        return self._server.wait_for(predicate, timeout_s)

    def __enter__(self) -> SimCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def describe(self) -> list[dict[str, Any]]:
        """One JSON-ready record per camera (what `skycam sim --json` prints)."""
        return [
            {
                "name": cam.name,
                "scene": cam.spec.scene_spec.kind,
                "fault": None if cam.spec.fault is None else str(cam.spec.fault),
                "audio": cam.spec.audio,
                "port": cam.port,
                "main_url": cam.main_url,
                "sub_url": cam.sub_url,
                "ground_truth": (
                    None
                    if cam.ground_truth is None or cam.ground_truth.path is None
                    else str(cam.ground_truth.path)
                ),
                "sub_ground_truth": (
                    None
                    if cam.sub_ground_truth is None or cam.sub_ground_truth.path is None
                    else str(cam.sub_ground_truth.path)
                ),
            }
            for cam in self.cameras.values()
        ]
