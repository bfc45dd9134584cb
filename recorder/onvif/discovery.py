"""WS-Discovery: find ONVIF cameras on the LAN.

A Probe for `dn:NetworkVideoTransmitter` (SOAP 1.2 over UDP) goes to the multicast group
239.255.255.250:3702; cameras answer ProbeMatches by unicast to the sender, with their endpoint
reference (a stable urn:uuid), service addresses (XAddrs) and scopes (name, hardware, location).
The probe is sent twice (UDP may drop one), answers are collected for `timeout_s` and merged by
endpoint reference. Tests and directed probes pass other `targets` (e.g. one host).

Answers are untrusted input from the network: they are size-bounded, parsed with the standard
library's expat (which refuses entity expansion bombs since Python 3.7.1), and only the fields
below are read.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

from recorder.clock import Clock, SystemClock
from recorder.errors import DiscoveryError

MULTICAST = ("239.255.255.250", 3702)
MAX_DATAGRAM = 65_507
_SOAP = "http://www.w3.org/2003/05/soap-envelope"
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_DN = "http://www.onvif.org/ver10/network/wsdl"
_PROBE_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"


@dataclass(frozen=True)
class DiscoveredDevice:
    address: str  # endpoint reference, e.g. urn:uuid:...; stable across reboots
    xaddrs: tuple[str, ...]  # device service URLs
    scopes: tuple[str, ...]
    types: tuple[str, ...] = ()

    def _scope(self, kind: str) -> str | None:
        prefix = f"onvif://www.onvif.org/{kind}/"
        for scope in self.scopes:
            if scope.startswith(prefix):
                return unquote(scope[len(prefix) :]).replace("_", " ")
        return None

    @property
    def name(self) -> str | None:
        return self._scope("name")

    @property
    def hardware(self) -> str | None:
        return self._scope("hardware")

    @property
    def location(self) -> str | None:
        return self._scope("location")

    @property
    def host(self) -> str | None:
        """Host of the first device service address."""
        for xaddr in self.xaddrs:
            host = urlsplit(xaddr).hostname
            if host:
                return host
        return None

    @property
    def port(self) -> int:
        for xaddr in self.xaddrs:
            parts = urlsplit(xaddr)
            if parts.hostname:
                return parts.port or (443 if parts.scheme == "https" else 80)
        return 80

    def to_public(self) -> dict[str, object]:
        return {
            "address": self.address,
            "host": self.host,
            "port": self.port,
            "name": self.name,
            "hardware": self.hardware,
            "location": self.location,
            "xaddrs": list(self.xaddrs),
        }


def probe_message(message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{_SOAP}" xmlns:a="{_WSA}" xmlns:d="{_WSD}" xmlns:dn="{_DN}">'
        f"<s:Header><a:Action>{_PROBE_ACTION}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def parse_probe_matches(data: bytes, message_id: str | None = None) -> list[DiscoveredDevice]:
    """The devices in a ProbeMatches datagram; [] for anything else (other traffic on the
    port, answers to another probe when `message_id` is given, malformed XML)."""
    if len(data) > MAX_DATAGRAM:
        return []
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    if message_id is not None:
        relates = _first_text(root, "RelatesTo")
        if relates is not None and relates != message_id:
            return []
    devices = []
    for match in _all(root, "ProbeMatch"):
        address = _first_text(match, "Address")
        xaddrs = tuple((_first_text(match, "XAddrs") or "").split())
        if not address or not xaddrs:
            continue
        devices.append(
            DiscoveredDevice(
                address=address,
                xaddrs=xaddrs,
                scopes=tuple((_first_text(match, "Scopes") or "").split()),
                types=tuple((_first_text(match, "Types") or "").split()),
            )
        )
    return devices


def merge(devices: Sequence[DiscoveredDevice]) -> list[DiscoveredDevice]:
    """One entry per endpoint reference (a camera answers each probe, on each interface)."""
    merged: dict[str, DiscoveredDevice] = {}
    for device in devices:
        known = merged.get(device.address)
        if known is None:
            merged[device.address] = device
            continue
        xaddrs = known.xaddrs + tuple(x for x in device.xaddrs if x not in known.xaddrs)
        scopes = known.scopes + tuple(s for s in device.scopes if s not in known.scopes)
        merged[device.address] = replace(known, xaddrs=xaddrs, scopes=scopes)
    return sorted(merged.values(), key=lambda d: (d.host or "", d.address))


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.devices: list[DiscoveredDevice] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.devices += parse_probe_matches(data, self.message_id)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable from a target that is not listening: nothing to collect


async def discover(
    timeout_s: float = 3.0,
    *,
    targets: Sequence[tuple[str, int]] = (MULTICAST,),
    bind: tuple[str, int] = ("0.0.0.0", 0),
    repeats: int = 2,
    clock: Clock | None = None,
) -> list[DiscoveredDevice]:
    """Probe and collect answers for `timeout_s`. Raises DiscoveryError if no socket can be
    opened or nothing can be sent."""
    clock = clock or SystemClock()
    loop = asyncio.get_running_loop()
    message_id = f"urn:uuid:{uuid.uuid4()}"
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Collector(message_id), local_addr=bind, family=socket.AF_INET
        )
    except OSError as exc:
        raise DiscoveryError(f"cannot open a UDP socket on {bind[0]}: {exc}") from exc
    try:
        sock = transport.get_extra_info("socket")
        # One hop: cameras are on this LAN; never let probes wander through routers.
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        message = probe_message(message_id)
        sent = 0
        last_error: OSError | None = None
        for attempt in range(repeats):
            if attempt:
                await clock.sleep(0.1)
            for target in targets:
                try:
                    transport.sendto(message, target)
                    sent += 1
                except OSError as exc:
                    last_error = exc
        if not sent:
            raise DiscoveryError(f"cannot send the probe: {last_error}")
        await clock.sleep(timeout_s)  # answers arrive meanwhile
    finally:
        transport.close()
    return merge(protocol.devices)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [element for element in root.iter() if _local(element.tag) == name]


def _first_text(root: ET.Element, name: str) -> str | None:
    for element in root.iter():
        if _local(element.tag) == name:
            return (element.text or "").strip()
    return None
