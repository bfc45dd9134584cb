"""`skycam recorder --config FILE`: run the recorder until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="recorder TOML config file")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from recorder.config import load_config
    from recorder.errors import ConfigError, RecorderError
    from recorder.service import run_until_signalled

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        logging.getLogger("skycam").error("invalid configuration: %s", exc)
        return 2
    try:
        asyncio.run(run_until_signalled(config))
    except RecorderError as exc:
        logging.getLogger("skycam").error("%s", exc)
        return 1
    return 0
