"""`skycam sim`: serve simulated RTSP cameras until interrupted.

Module-level imports stay in the standard library: `skycam` imports every command module to build
its parser, and the simulator's own modules load only when `skycam sim` runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.spec import CameraSpec

log = logging.getLogger(__name__)

SCENE_CHOICES = ("motion", "idle", "lights", "pattern", "mixed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=1, metavar="N", help="number of cameras")
    parser.add_argument(
        "--scene",
        choices=SCENE_CHOICES,
        default="motion",
        help="scene of every camera; mixed cycles motion, idle, lights, pattern (default motion)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="CAM=FAULT",
        help="give camera CAM (e.g. cam2) a fault: drop:N, stall:N, stall:N:M or garbage; "
        "repeatable",
    )
    parser.add_argument(
        "--base-port", type=int, default=None, metavar="P", help="camera i listens on P+i-1"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--audio", action="store_true", help="add AAC audio to the main mounts")
    parser.add_argument("--user", default=None, help="RTSP user name required by every camera")
    parser.add_argument("--password", default=None, help="RTSP password (with --user)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="D",
        help="encoded scene cache (default $SKYCAM_SIM_CACHE or ~/.cache/skycam/scenes)",
    )
    parser.add_argument("--json", action="store_true", help="print the cameras as one JSON line")


def build_specs(args: argparse.Namespace) -> list[CameraSpec]:
    """The cameras the arguments ask for, named cam1..camN. Raises SpecError on bad input."""
    from sim.errors import SpecError
    from sim.scenes import mixed_scene_names
    from sim.spec import CameraSpec, Fault

    if not 1 <= args.cameras <= 256:
        raise SpecError(f"--cameras {args.cameras}: expected 1..256")
    names = [f"cam{i + 1}" for i in range(args.cameras)]
    faults: dict[str, Fault] = {}
    for item in args.fault:
        name, sep, text = item.partition("=")
        if not sep or name not in names:
            raise SpecError(
                f"--fault {item!r}: expected CAM=FAULT with CAM one of cam1..{names[-1]}"
            )
        faults[name] = Fault.parse(text)
    scenes = (
        mixed_scene_names(args.cameras) if args.scene == "mixed" else [args.scene] * args.cameras
    )
    return [
        CameraSpec(
            name=name,
            scene=scene,
            fault=faults.get(name),
            audio=args.audio,
            user=args.user,
            password=args.password,
        )
        for name, scene in zip(names, scenes, strict=True)
    ]


def run(args: argparse.Namespace) -> int:
    from sim.cluster import SimCluster
    from sim.errors import ServerDiedError, SimError

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the cameras", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        specs = build_specs(args)
        if not args.json:
            log.info("preparing %d camera(s); a cold scene cache takes a minute", len(specs))
        with SimCluster(
            specs, cache_dir=args.cache_dir, host=args.host, base_port=args.base_port
        ) as cluster:
            cameras = cluster.describe()
            if args.json:
                print(json.dumps({"cameras": cameras}), flush=True)
            else:
                for cam in cameras:
                    fault = f"  fault={cam['fault']}" if cam["fault"] else ""
                    urls = f"{cam['main_url']}  {cam['sub_url']}"
                    print(f"{cam['name']}  {cam['scene']:<7}  {urls}{fault}", flush=True)
            while not stop.wait(1.0):
                cluster.check_alive()
    except ServerDiedError as exc:
        print(f"skycam sim: {exc}", file=sys.stderr)
        return 1
    except SimError as exc:
        print(f"skycam sim: {exc}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
