"""Storage decisions that cost footage or recording go to the audit log, beside who did what.

Retention publishes `StorageAlert`s on the event loop and its listeners must not block, so each
entry is written by a task of its own; the tasks are kept until done (a bare task may be
garbage-collected mid-write) and a failed write is logged, never raised into retention.
"""

from __future__ import annotations

import asyncio
import logging

from recorder.accounts.audit import AuditLog
from recorder.storage.state import AlertKind, StorageAlert, StorageState

log = logging.getLogger(__name__)

ACTOR = "system:retention"
ACTIONS = {
    AlertKind.EVENTS_DELETED: "storage.events_deleted",
    AlertKind.BREAKER_OPENED: "storage.recording_paused",
    AlertKind.BREAKER_CLOSED: "storage.recording_resumed",
}


class StorageAudit:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, storage: StorageState) -> None:
        storage.add_listener(self.on_alert)

    def on_alert(self, alert: StorageAlert) -> None:
        action = ACTIONS.get(alert.kind)
        if action is None:
            return
        task = asyncio.create_task(self._record(action, alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, action: str, alert: StorageAlert) -> None:
        try:
            await self._audit.record(
                action,
                ACTOR,
                target="recordings",
                message=alert.message,
                used_percent=alert.used_percent,
                **alert.detail,
            )
        except Exception:
            log.exception("cannot write the audit entry for %s", action)

    async def drain(self) -> None:
        """Wait for the entries being written (before the site database closes)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
