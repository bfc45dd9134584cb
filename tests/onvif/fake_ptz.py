"""The PTZ unit of the fake ONVIF camera: a head whose position really changes.

Positions are in ONVIF's generic spaces (pan and tilt -1..1 over the head's full range, zoom
0..1). ContinuousMove turns the head at `RATE` generic units per second times the velocity until
Stop or its Timeout; RelativeMove and AbsoluteMove, GotoPreset and SetPreset/RemovePreset act on
the state as a camera does, with the faults a camera answers (`ter:NoToken` for an unknown
preset, `ter:PresetExist` for a duplicate name, `ter:TooManyPresets`). GetStatus reports the
position, so a test can check what a command did to the camera, not only that it was sent.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

RATE = 0.5  # generic units per second at velocity 1 (a 360° head: 90°/s)
PTZ_OPERATIONS = frozenset(
    {
        "ContinuousMove",
        "RelativeMove",
        "AbsoluteMove",
        "Stop",
        "GetStatus",
        "GetPresets",
        "GotoPreset",
        "SetPreset",
        "RemovePreset",
    }
)


class PtzFault(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Position:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0


@dataclass
class FakePtz:
    """The head's state. `relative=False` is a camera whose PTZ node offers no relative space
    (RelativeMove answers ActionNotSupported)."""

    relative: bool = True
    max_presets: int = 16
    presets: dict[str, tuple[str, Position]] = field(
        default_factory=lambda: {
            "1": ("Gate", Position(-0.5, 0.0, 0.0)),
            "2": ("Yard", Position(0.5, -0.2, 0.0)),
        }
    )
    _position: Position = field(default_factory=Position)
    _velocity: Position = field(default_factory=Position)
    _since: float = 0.0
    _until: float = 0.0
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def position(self) -> Position:
        with self._lock:
            return self._settle(time.monotonic())

    def moving(self) -> bool:
        with self._lock:
            self._settle(time.monotonic())
            return self._velocity != Position()

    def _settle(self, now: float) -> Position:
        """Fold the motion since the last change into the position."""
        if self._velocity != Position():
            end = min(now, self._until)
            dt = max(end - self._since, 0.0) * RATE
            p, v = self._position, self._velocity
            self._position = _clamped(
                p.pan + v.pan * dt, p.tilt + v.tilt * dt, p.zoom + v.zoom * dt
            )
            self._since = end
            if now >= self._until:
                self._velocity = Position()
        return self._position

    def answer(self, operation: str, request: ET.Element) -> str:
        with self._lock:
            now = time.monotonic()
            self._settle(now)
            return self._answer(operation, request, now)

    def _answer(self, operation: str, request: ET.Element, now: float) -> str:
        if operation == "ContinuousMove":
            velocity = _vector(request, "Velocity")
            timeout = _duration_s(_text(request, "Timeout"), 60.0)
            self._velocity = Position(velocity.pan, velocity.tilt, velocity.zoom)
            self._since, self._until = now, now + timeout
        elif operation == "Stop":
            self._velocity = Position()
        elif operation == "RelativeMove":
            if not self.relative:
                raise PtzFault("ter:ActionNotSupported", "no relative pan/tilt space")
            t, p = _vector(request, "Translation"), self._position
            self._velocity = Position()
            self._position = _clamped(p.pan + t.pan, p.tilt + t.tilt, p.zoom + t.zoom)
        elif operation == "AbsoluteMove":
            t = _vector(request, "Position")
            self._velocity = Position()
            self._position = _clamped(t.pan, t.tilt, t.zoom)
        elif operation == "GetStatus":
            return _status(self._position, self._velocity != Position())
        elif operation == "GetPresets":
            return (
                "<tptz:GetPresetsResponse>"
                + "".join(_preset(t, n, p) for t, (n, p) in self.presets.items())
                + "</tptz:GetPresetsResponse>"
            )
        elif operation == "GotoPreset":
            name_position = self.presets.get(_text(request, "PresetToken"))
            if name_position is None:
                raise PtzFault("ter:NoToken", "no such preset")
            self._velocity = Position()
            self._position = name_position[1]
        elif operation == "SetPreset":
            return self._set_preset(request)
        elif (
            operation == "RemovePreset"
            and self.presets.pop(_text(request, "PresetToken"), None) is None
        ):
            raise PtzFault("ter:NoToken", "no such preset")
        return f"<tptz:{operation}Response/>"

    def _set_preset(self, request: ET.Element) -> str:
        token, name = _text(request, "PresetToken"), _text(request, "PresetName")
        if token and token not in self.presets:
            raise PtzFault("ter:NoToken", "no such preset")
        if any(n == name and t != token for t, (n, _) in self.presets.items()):
            raise PtzFault("ter:PresetExist", "a preset has that name")
        if not token:
            if len(self.presets) >= self.max_presets:
                raise PtzFault("ter:TooManyPresets", "no room for another preset")
            token = str(next(self._tokens))
        self.presets[token] = (name or f"Preset {token}", self._position)
        return (
            f"<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken>"
            "</tptz:SetPresetResponse>"
        )


def _local(element: ET.Element) -> str:
    return element.tag.split("}")[-1]


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c) == name), None)


def _text(request: ET.Element, name: str) -> str:
    found = _child(request, name)
    return (found.text or "").strip() if found is not None else ""


def _vector(request: ET.Element, name: str) -> Position:
    vector = _child(request, name)
    pan_tilt, zoom = _child(vector, "PanTilt"), _child(vector, "Zoom")
    return Position(
        float(pan_tilt.get("x", 0)) if pan_tilt is not None else 0.0,
        float(pan_tilt.get("y", 0)) if pan_tilt is not None else 0.0,
        float(zoom.get("x", 0)) if zoom is not None else 0.0,
    )


def _clamped(pan: float, tilt: float, zoom: float) -> Position:
    return Position(max(-1.0, min(1.0, pan)), max(-1.0, min(1.0, tilt)), max(0.0, min(1.0, zoom)))


def _duration_s(text: str, default: float) -> float:

    match = re.fullmatch(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text)
    if not match or not any(match.groups()):
        return default
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def _vector_xml(position: Position) -> str:
    return (
        f'<tt:PanTilt x="{position.pan:.6f}" y="{position.tilt:.6f}"/>'
        f'<tt:Zoom x="{position.zoom:.6f}"/>'
    )


def _preset(token: str, name: str, position: Position) -> str:
    return (
        f'<tptz:Preset token="{token}"><tt:Name>{name}</tt:Name>'
        f"<tt:PTZPosition>{_vector_xml(position)}</tt:PTZPosition></tptz:Preset>"
    )


def _status(position: Position, moving: bool) -> str:
    state = "MOVING" if moving else "IDLE"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>{_vector_xml(position)}"
        f"</tt:Position><tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}"
        f"</tt:Zoom></tt:MoveStatus><tt:UtcTime>{now}</tt:UtcTime></tptz:PTZStatus>"
        "</tptz:GetStatusResponse>"
    )
