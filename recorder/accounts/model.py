"""Who may do what: roles, per-camera rights, and the principal a request runs as.

Roles cap rights: a viewer can at most watch live and play back; an operator can also export
clips and move PTZ cameras on the cameras granted to them; an admin can do everything on every
camera and manage cameras, users and settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Right(StrEnum):
    LIVE = "live"
    PLAYBACK = "playback"
    EXPORT = "export"
    PTZ = "ptz"


ROLE_CAP: Mapping[Role, frozenset[Right]] = {
    Role.ADMIN: frozenset(Right),
    Role.OPERATOR: frozenset(Right),
    Role.VIEWER: frozenset({Right.LIVE, Right.PLAYBACK}),
}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    disabled: bool = False
    created_ms: int = 0
    rights: Mapping[str, frozenset[Right]] = field(default_factory=dict)  # camera id -> rights


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    username: str
    role: Role
    rights: Mapping[str, frozenset[Right]] = field(default_factory=dict)
    session: str = ""  # refresh-token family: identifies a login for audit and revocation

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can(self, camera_id: str, right: Right) -> bool:
        if self.is_admin:
            return True
        return right in self.rights.get(camera_id, frozenset()) and right in ROLE_CAP[self.role]

    def cameras_with(self, right: Right | None = None) -> set[str] | None:
        """Camera ids this principal has `right` (any right, if None) on; None means all."""
        if self.is_admin:
            return None
        return {
            cam
            for cam, rights in self.rights.items()
            if (right in rights if right else bool(rights & ROLE_CAP[self.role]))
        }


def effective_rights(role: Role, granted: frozenset[Right]) -> frozenset[Right]:
    return granted & ROLE_CAP[role]
