"""Where the relay will POST: a recorder names the URL, so an unchecked one would make the
relay call its own network (a cloud metadata service, a VPC neighbour). The rules are the
recorder's (recorder/push/endpoint.py): https only, no user information, a public IP literal or
a public-looking name; and at connect time every address the name resolves to must be global,
the connection goes to that checked address (no second lookup that DNS rebinding could
answer differently). `allow_loopback` (tests and the bench only) also accepts 127.0.0.0/8 and
::1 over http.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import BadRequest

MAX_URL = 2048
LAN_SUFFIXES = (".local", ".lan", ".home", ".internal", ".localdomain", ".home.arpa", ".intranet")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedEndpoint(BadRequest):
    """An endpoint the relay will not call (the recorder is told `rejected`)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL: the Host header and the TLS server name
    port: int
    path: str  # path and query


def _allowed(address: Address, loopback: bool) -> bool:
    if loopback and address.is_loopback:
        return True
    return address.is_global and not address.is_multicast


def check_endpoint(url: object, *, allow_loopback: bool = False) -> Target:
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise RefusedEndpoint(f"endpoint must be a URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedEndpoint("endpoint is not a URL") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.username is not None or parts.password is not None or port == 0:
        raise RefusedEndpoint("endpoint needs a host, no user information and a real port")
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    loopback_ok = allow_loopback and literal is not None and literal.is_loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback_ok):
        raise RefusedEndpoint("endpoint must be an https:// URL")
    if literal is not None and not _allowed(literal, allow_loopback):
        raise RefusedEndpoint("endpoint is not a public address")
    if literal is None and ("." not in host or host == "localhost" or host.endswith(LAN_SUFFIXES)):
        raise RefusedEndpoint("endpoint is not a public host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default, path)


def public_address(target: Target, *, allow_loopback: bool = False) -> str:
    """The address to connect to: every address the name resolves to must be allowed (a name
    with one LAN address among public ones is refused: it could be chosen on retry)."""
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:  # maybe a passing DNS failure: the recorder retries later
        raise ConnectionError("endpoint host does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or not all(_allowed(a, allow_loopback) for a in addresses):
        raise RefusedEndpoint("endpoint resolves to an address the relay does not call")
    return str(addresses[0])
