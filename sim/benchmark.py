"""How much CPU the camera server spends to serve N cameras (`python -m sim.benchmark`).

Each camera gets two ffmpeg clients, on /main and on /sub, copying packets to nowhere over RTSP/TCP
(what a recorder and its motion detector do, minus their own work). Only the server process is
measured; the clients' CPU is reported beside it for context. Needs psutil (a dev dependency).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sim.cluster import SimCluster
from sim.errors import SimError
from sim.formats import MOUNTS
from sim.scenes import SCENE_KINDS
from sim.spec import CameraSpec


@dataclass(frozen=True)
class CpuReport:
    cameras: int
    scene: str
    seconds: float
    server_cores: float  # CPU-seconds of the server per wall second (1.0 = one core busy)
    server_cores_per_camera: float
    clients_cores: float
    clients_alive: int
    clients_started: int


def _client_command(ffmpeg: str, url: str) -> list[str]:
    """An ffmpeg that pulls a stream over RTSP/TCP and throws the packets away."""
    pull = ["-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url]
    return [ffmpeg, *pull, "-c", "copy", "-f", "null", "-"]


def _cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure_server_cpu(
    cameras: int = 16,
    seconds: float = 30.0,
    scene: str = "motion",
    warmup_s: float = 5.0,
    ffmpeg: str = "/usr/bin/ffmpeg",
) -> CpuReport:
    import psutil

    specs = [CameraSpec(f"cam{i + 1}", scene) for i in range(cameras)]
    clients: list[subprocess.Popen[bytes]] = []
    with SimCluster(specs) as cluster:
        try:
            for camera in cluster.cameras.values():
                for mount in MOUNTS:
                    clients.append(
                        subprocess.Popen(
                            _client_command(ffmpeg, camera.url(mount)),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
            time.sleep(warmup_s)  # let every client connect and probe before measuring
            server = psutil.Process(cluster.server_pid)
            watched = [psutil.Process(c.pid) for c in clients]
            start_wall = time.monotonic()
            start_server = _cpu_seconds(server)
            start_clients = sum(_cpu_seconds(p) for p in watched)
            time.sleep(seconds)
            wall = time.monotonic() - start_wall
            server_cores = (_cpu_seconds(server) - start_server) / wall
            clients_cores = (sum(_cpu_seconds(p) for p in watched) - start_clients) / wall
            alive = sum(1 for c in clients if c.poll() is None)
        finally:
            for client in clients:
                client.terminate()
            for client in clients:
                client.wait(5)
    return CpuReport(
        cameras=cameras,
        scene=scene,
        seconds=round(wall, 1),
        server_cores=round(server_cores, 4),
        server_cores_per_camera=round(server_cores / cameras, 5),
        clients_cores=round(clients_cores, 3),
        clients_alive=alive,
        clients_started=len(clients),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.benchmark", description=__doc__)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scene", choices=SCENE_KINDS, default="motion")
    args = parser.parse_args(argv)
    try:
        report = measure_server_cpu(args.cameras, args.seconds, args.scene)
    except SimError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
