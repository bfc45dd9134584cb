"""Where a camera's ONVIF service is (the `[cameras.onvif]` table) and how to reach it.

Credentials are the camera's own (`username`, `password` of the camera): ONVIF and RTSP share
them on every camera we know of.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class OnvifConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None
    """Host of the ONVIF service (default: the host of main_url)."""

    port: Annotated[int, Field(ge=1, le=65535)] = 80
    """Port of the ONVIF service (default 80; some cameras use 8000, 8080 or 8899)."""

    timeout_s: Annotated[float, Field(ge=1, le=120)] = 10
    """Time allowed for one ONVIF request (default 10 s)."""

    hfov_deg: Annotated[float, Field(gt=1, lt=180)] = 60
    """Horizontal field of view at the widest zoom, in degrees (default 60): turns a click
    on the picture into a pan/tilt angle for click-to-centre."""

    pan_range_deg: Annotated[float, Field(gt=1, le=360)] = 360
    """Degrees the head pans from one end to the other (default 360): ONVIF's generic
    translation space spans the full range, whatever it is."""

    tilt_range_deg: Annotated[float, Field(gt=1, le=360)] = 90
    """Degrees the head tilts from one end to the other (default 90)."""

    def view(self) -> FieldOfView:
        return FieldOfView(self.hfov_deg, self.pan_range_deg, self.tilt_range_deg)


@dataclass(frozen=True)
class FieldOfView:
    """What click-to-centre needs to know of a PTZ head (see `OnvifConfig`)."""

    hfov_deg: float = 60.0
    pan_range_deg: float = 360.0
    tilt_range_deg: float = 90.0


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOCAL_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)


class OnboardingConfig(BaseModel):
    """Where the recorder may look for cameras when an admin asks it to (the `[onboarding]`
    table): discovery and probes reach only these networks, so the API cannot be used to
    scan or call arbitrary hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    networks: Annotated[tuple[str, ...], Field(max_length=64)] = LOCAL_NETWORKS
    """Networks (CIDR) that probes and discovery targets may be in (default: the private,
    link-local and loopback ranges of IPv4 and IPv6)."""

    multicast: bool = True
    """Whether discovery without targets sends the WS-Discovery probe to the LAN's multicast
    group 239.255.255.250:3702 (default true)."""

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{text!r} is not a network (CIDR, like 192.168.0.0/16)") from None
        return value

    def allows(self, address: str) -> bool:
        """Whether `address` (an IP literal) is in one of the networks."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.networks)


@dataclass(frozen=True)
class OnvifEndpoint:
    host: str
    port: int = 80
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0

    @property
    def where(self) -> str:
        """host:port, for messages (never the credentials)."""
        return f"{self.host}:{self.port}"


class CameraAddress(Protocol):
    """What an endpoint needs of a camera's settings (`recorder.config.CameraConfig`, which
    imports this module: naming it here would be a cycle)."""

    @property
    def main_url(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def onvif(self) -> OnvifConfig: ...


def endpoint_for(camera: CameraAddress, onvif: OnvifConfig | None = None) -> OnvifEndpoint:
    """The camera's ONVIF endpoint: `onvif` (default: the camera's `onvif` table if the config
    has one, else defaults) with the host of its main URL and its credentials."""
    settings = onvif or camera.onvif
    host = settings.host or urlsplit(camera.main_url).hostname or ""
    password = camera.password.get_secret_value() if camera.password else None
    return OnvifEndpoint(host, settings.port, camera.username, password, settings.timeout_s)
