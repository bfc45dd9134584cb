"""`skycam up`: the whole product on one machine, for demos and self-hosting trials.

Starts simulated cameras (with generated RTSP credentials, as real cameras have), writes a
recorder config for them and runs the recorder until Ctrl-C. The local relay and the PWA join
here as they land. Prints what a user needs: where things are and how to get in.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SCENES = ("motion", "idle", "lights", "pattern")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=4, help="simulated cameras (default 4)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data/demo"), help="default ./data/demo"
    )


def write_config(path: Path, data_dir: Path, cameras: list[tuple[str, str, str, str, str]]) -> None:
    """A recorder TOML config; 0600, since it holds the cameras' passwords."""
    lines = [f'data_dir = "{data_dir}"', ""]
    for cam_id, main, sub, user, password in cameras:
        lines += [
            "[[cameras]]",
            f'id = "{cam_id}"',
            f'main_url = "{main}"',
            f'sub_url = "{sub}"',
            f'username = "{user}"',
            f'password = "{password}"',
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines), encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import secrets
    import signal

    from recorder.config import load_config
    from recorder.service import Recorder
    from sim import CameraSpec, SimCluster

    data_dir = args.data_dir.resolve()
    specs = [
        CameraSpec(
            name=f"cam{i + 1}",
            scene=SCENES[i % len(SCENES)],
            audio=i == 0,
            user="admin",
            password=secrets.token_urlsafe(12),
        )
        for i in range(args.cameras)
    ]
    print("Preparing simulated cameras (scenes are encoded once, then cached)...", flush=True)
    with SimCluster(specs) as cluster:
        entries = []
        for spec in specs:
            camera = cluster.cameras[spec.name]
            main = camera.url("main", credentials=False)
            sub = camera.url("sub", credentials=False)
            entries.append((spec.name, main, sub, spec.user or "", spec.password or ""))
        config_path = data_dir / "recorder.toml"
        write_config(config_path, data_dir, entries)
        config = load_config(config_path)

        print("\nSkyCam is running. Press Ctrl-C to stop.\n")
        for spec, entry in zip(specs, entries, strict=True):
            print(f"  camera {spec.name:<6} {spec.scene_spec.kind:<8} {entry[1]}")
        print(f"\n  recorder config  {config_path}")
        print(f"  recordings       {data_dir / 'recordings'}")
        print(f"  index            {data_dir / 'index.sqlite3'}")
        print("  (the web app, its login and the local relay are printed here once they exist)\n")

        async def main() -> None:
            shutdown = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, shutdown.set)
            await Recorder(config).run(shutdown)

        asyncio.run(main())
    return 0
