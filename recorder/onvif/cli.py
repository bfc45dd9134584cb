"""`skycam discover`: find ONVIF cameras on the LAN, or describe one host.

    skycam discover                          # WS-Discovery on the LAN, 3 s
    skycam discover --user admin --password X   # ... and describe each camera found
    skycam discover --host 192.168.1.64 --user admin --password X   # one camera, no multicast

Module-level imports stay in the standard library: `skycam` imports every command module to
build its parser; ONVIF and zeep load only when this command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="describe this camera instead of searching the LAN")
    parser.add_argument("--port", type=int, default=80, help="ONVIF port with --host (default 80)")
    parser.add_argument("--user", help="ONVIF user name: describe the cameras found")
    parser.add_argument("--password", default="", help="ONVIF password (with --user)")
    parser.add_argument(
        "--timeout", type=float, default=3.0, metavar="S", help="seconds to wait for answers"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="send the probe to this address instead of the multicast group (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        targets = [_target(text) for text in args.target]
    except ValueError as exc:
        print(f"skycam discover: {exc}", file=sys.stderr)
        return 2
    if not 0 < args.timeout <= 60:
        print("skycam discover: --timeout must be in (0, 60]", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, targets))


async def _run(args: argparse.Namespace, targets: list[tuple[str, int]]) -> int:
    from recorder.errors import OnvifError
    from recorder.onvif.config import OnvifEndpoint
    from recorder.onvif.discovery import MULTICAST, DiscoveredDevice, discover
    from recorder.onvif.probe import probe_device

    result: dict[str, Any] = {"devices": []}
    status = 0
    hosts: list[tuple[str, int, DiscoveredDevice | None]]
    if args.host:
        hosts = [(args.host, args.port, None)]
    else:
        try:
            found = await discover(args.timeout, targets=targets or [MULTICAST])
        except OnvifError as exc:
            print(f"skycam discover: {exc}", file=sys.stderr)
            return 1
        hosts = [(d.host or "", d.port, d) for d in found]
    for host, port, discovered in hosts:
        entry: dict[str, Any] = discovered.to_public() if discovered else {"host": host}
        if args.user or args.host:
            endpoint = OnvifEndpoint(host, port, args.user, args.password, args.timeout * 3)
            try:
                entry["device"] = (await probe_device(endpoint)).to_public()
            except OnvifError as exc:
                entry["error"] = str(exc)
                status = 1
        result["devices"].append(entry)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result["devices"])
    return status


def _print(devices: list[dict[str, Any]]) -> None:
    if not devices:
        print("no ONVIF camera answered")
    for entry in devices:
        device = entry.get("device") or {}
        title = " ".join(
            str(part)
            for part in (device.get("manufacturer"), device.get("model"), entry.get("name"))
            if part
        )
        print(
            f"{entry.get('host')}:{entry.get('port', 80)}  {title or entry.get('hardware') or ''}"
        )
        if device:
            print(
                f"    serial {device.get('serial')}  ptz {device['ptz']}  events {device['events']}"
            )
            print(f"    main {device['main_url']}")
            if device.get("sub_url"):
                print(f"    sub  {device['sub_url']}")
        if entry.get("error"):
            print(f"    error: {entry['error']}")


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 3702
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--target {text!r}: bad port")
    return host.strip("[]"), int(port)
