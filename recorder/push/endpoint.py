"""Which push endpoints the recorder will call, checked twice.

A subscription names a URL the recorder will POST to, so an unchecked one would let any user
make the recorder call its own LAN (routers, cameras, cloud metadata services). Rules:
- at subscribe time: https only, a host name or a public IP address, no userinfo, no odd port
  syntax; IP literals that are private, loopback, link-local, multicast or reserved are refused,
  and so are names that only mean something on a LAN (`localhost`, `*.local`, single labels);
- at send time: `GuardedResolver` drops every resolved address that is not global, so a public
  name that resolves (or is re-pointed) to a LAN address is never connected to.
`allow_loopback` (tests only) also accepts http:// or https:// to 127.0.0.0/8 and ::1.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from recorder.push.errors import BadSubscription, RefusedAddress

MAX_URL = 2048
LAN_SUFFIXES = (".local", ".lan", ".home", ".internal", ".localdomain", ".home.arpa", ".intranet")


def _allowed_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, loopback: bool) -> bool:
    if loopback and address.is_loopback:
        return True
    return address.is_global and not address.is_multicast


def check_endpoint(url: str, *, allow_loopback: bool = False) -> str:
    """`url` if the recorder may deliver to it, else `BadSubscription` with the reason."""
    if len(url) > MAX_URL:
        raise BadSubscription(f"endpoint: longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadSubscription(f"endpoint: not a URL ({exc})") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BadSubscription("endpoint: no host")
    if parts.username is not None or parts.password is not None:
        raise BadSubscription("endpoint: user information is not allowed")
    if port == 0:
        raise BadSubscription("endpoint: port 0")
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    loopback_ok = allow_loopback and literal is not None and literal.is_loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback_ok):
        raise BadSubscription("endpoint: must be an https:// URL")
    if literal is not None:
        if not _allowed_ip(literal, allow_loopback):
            raise BadSubscription(f"endpoint: {host} is not a public address")
    elif "." not in host or host == "localhost" or host.endswith(LAN_SUFFIXES):
        raise BadSubscription(f"endpoint: {host} is not a public host name")
    return url


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that connects only to public addresses (and loopback if allowed)."""

    def __init__(self, allow_loopback: bool = False) -> None:
        self._inner = DefaultResolver()
        self._loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if _allowed_ip(ipaddress.ip_address(r["host"]), self._loopback)]
        if not kept:
            raise RefusedAddress(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()
