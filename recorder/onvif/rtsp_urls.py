"""RTSP URLs of cameras without ONVIF (or with a broken one), by vendor. Pure functions.

The URLs carry no credentials: the camera config keeps user and password apart and embeds them
only when connecting. Paths are the vendors' documented defaults; channel numbers count from 1
(NVRs and multi-sensor cameras have several).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlsplit, urlunsplit

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$"
)


class Vendor(StrEnum):
    HIKVISION = "hikvision"
    DAHUA = "dahua"
    INTELBRAS = "intelbras"  # Dahua firmware
    AMCREST = "amcrest"  # Dahua firmware
    AXIS = "axis"
    REOLINK = "reolink"
    UNIVIEW = "uniview"
    GENERIC = "generic"


@dataclass(frozen=True)
class StreamUrls:
    main: str
    sub: str | None


def rtsp_urls(
    vendor: Vendor | str,
    host: str,
    *,
    port: int = 554,
    channel: int = 1,
    path: str | None = None,
    sub_path: str | None = None,
) -> StreamUrls:
    """The main and sub stream URLs of a camera. `path` / `sub_path` are for `generic` (and
    override any vendor's default). Raises ValueError on a bad host, port, channel or vendor."""
    vendor = Vendor(vendor)
    netloc = _netloc(host, port)
    if not 1 <= channel <= 256:
        raise ValueError(f"channel {channel} must be 1..256")
    if vendor is Vendor.GENERIC and path is None:
        raise ValueError("a generic camera needs the path of its stream")
    main, sub = _paths(vendor, channel)
    main = path if path is not None else main
    sub = sub_path if sub_path is not None else (None if path is not None else sub)
    return StreamUrls(_url(netloc, main), _url(netloc, sub) if sub else None)


def _paths(vendor: Vendor, channel: int) -> tuple[str, str | None]:
    if vendor is Vendor.HIKVISION:
        # Channel n: n01 is the main stream, n02 the sub stream.
        return f"/Streaming/Channels/{channel}01", f"/Streaming/Channels/{channel}02"
    if vendor in (Vendor.DAHUA, Vendor.INTELBRAS, Vendor.AMCREST):
        base = f"/cam/realmonitor?channel={channel}&subtype="
        return base + "0", base + "1"
    if vendor is Vendor.AXIS:
        camera = f"camera={channel}&" if channel > 1 else ""
        return (
            f"/axis-media/media.amp?{camera}videocodec=h264",
            f"/axis-media/media.amp?{camera}videocodec=h264&resolution=640x360",
        )
    if vendor is Vendor.REOLINK:
        return f"/h264Preview_{channel:02d}_main", f"/h264Preview_{channel:02d}_sub"
    if vendor is Vendor.UNIVIEW:
        return f"/unicast/c{channel}/s0/live", f"/unicast/c{channel}/s1/live"
    return "/", None


def _netloc(host: str, port: int) -> str:
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} must be 1..65535")
    host = host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} is not a host name or IP address") from None
        name = host
    else:
        name = f"[{address}]" if address.version == 6 else str(address)
    return name if port == 554 else f"{name}:{port}"


def _url(netloc: str, path: str) -> str:
    if not path.startswith("/"):
        path = "/" + path
    route, _, query = path.partition("?")
    return f"rtsp://{netloc}{quote(route, safe='/_-.~')}" + (f"?{query}" if query else "")


def strip_credentials(url: str) -> str:
    """The URL without user:password@ (cameras sometimes return URIs with them)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))
