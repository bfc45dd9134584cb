"""`AccessSignal`: tells whoever holds a long-lived connection that someone's access changed.

An HTTP request checks its token and rights when it arrives; a WebSocket (and later the relay
tunnel) is authorised once and then stays open, so it must hear when that authorisation stops
holding: a logout, a revoked session, a disabled or deleted account, a new password, changed
rights, a removed camera. The token service and the account store announce every such change
here; a connection re-reads what it was allowed and closes, or narrows what it sends, at once.

A change says whose access moved (one session, one user, or everybody for a removed camera),
not what it became: the listener re-reads the site database, so there is one truth.
Listeners are plain functions called on the event loop; one that fails is logged and the
others still hear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    SESSION_ENDED = "session_ended"  # logout, refresh-token reuse: one session
    SESSIONS_ENDED = "sessions_ended"  # password reset, account disabled: every session of a user
    USER_CHANGED = "user_changed"  # role, rights, deletion: re-read the user
    CAMERA_REMOVED = "camera_removed"  # rights on one camera gone for everybody


@dataclass(frozen=True)
class AccessChange:
    kind: ChangeKind
    user_id: int | None = None  # None: possibly everybody
    session_id: str | None = None  # set for SESSION_ENDED
    camera_id: str | None = None  # set for CAMERA_REMOVED

    def concerns(self, user_id: int, session_id: str) -> bool:
        """Whether a connection of `user_id` in `session_id` must re-check its access."""
        if self.kind is ChangeKind.SESSION_ENDED:
            return self.session_id == session_id
        return self.user_id is None or self.user_id == user_id


Listener = Callable[[AccessChange], None]


class AccessSignal:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every change from now on; returns the function that stops it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def announce(self, change: AccessChange) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("access-change listener failed")
