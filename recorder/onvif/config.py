"""Where a camera's ONVIF service is (the `[cameras.onvif]` table) and how to reach it.

Credentials are the camera's own (`username`, `password` of the camera): ONVIF and RTSP share
them on every camera we know of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from recorder.config import CameraConfig


class OnvifConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None
    """Host of the ONVIF service (default: the host of main_url)."""

    port: Annotated[int, Field(ge=1, le=65535)] = 80
    """Port of the ONVIF service (default 80; some cameras use 8000, 8080 or 8899)."""

    timeout_s: Annotated[float, Field(ge=1, le=120)] = 10
    """Time allowed for one ONVIF request (default 10 s)."""


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


def endpoint_for(camera: CameraConfig, onvif: OnvifConfig | None = None) -> OnvifEndpoint:
    """The camera's ONVIF endpoint: `onvif` (default: the camera's `onvif` table if the config
    has one, else defaults) with the host of its main URL and its credentials."""
    settings = onvif or getattr(camera, "onvif", None) or OnvifConfig()
    host = settings.host or urlsplit(camera.main_url).hostname or ""
    password = camera.password.get_secret_value() if camera.password else None
    return OnvifEndpoint(host, settings.port, camera.username, password, settings.timeout_s)
