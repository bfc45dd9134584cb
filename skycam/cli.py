"""`skycam <command>`: each command lives in its own package and registers itself here.

A command module exposes `add_arguments(parser)` and `run(args) -> int`; it is imported only
when its command runs, so `skycam sim` does not import the recorder and vice versa.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "recorder": ("recorder.cli", "run the recorder service"),
    "sim": ("sim.cli", "serve simulated RTSP cameras"),
    "user": ("recorder.accounts.cli", "manage the recorder's local users"),
    "invite": ("recorder.tunnel.cli", "invite a device to reach this recorder through the relay"),
    "discover": ("recorder.onvif.cli", "find ONVIF cameras on the LAN, or describe one"),
    "relay": ("cloud.local.cli", "run the cloud relay on this machine (local relay host)"),
    "up": ("skycam.up", "run the whole product on this machine (demo / self-hosting)"),
    "deploy": ("skycam.deploy", "deploy the cloud relay to AWS with the CDK (docs/DEPLOYMENT.md)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skycam", description="SkyCam video surveillance")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = importlib.import_module(args._module).run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
