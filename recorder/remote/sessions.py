"""`RemoteMedia`: the recorder's media sessions for remote devices.

A device asks through the sealed channel (a brokered /api/v1/remote call, so the recorder
user's per-camera rights apply as on the LAN). The recorder makes a random session key, asks
the relay for upload rights for the account of the device's tunnel session (the relay checks
that account's grant), starts the upload work and answers with the session id, the prefix and
the key: the key leaves the recorder only in that sealed answer.

Each session is held by a lease the device renews (`lease_s`); it ends when the lease lapses,
when the device stops it, when the tunnel session it was asked from ends (revocation, the
device leaving), or when the relay refuses to renew the upload rights (grant revoked).

A live view is shared (`join_live`): devices of one cloud account watching the same camera
stream get the same session (id, prefix, key) and the recorder uploads each part once. Each
device still has its own `MediaSession` here, with its own lease, user and right (checked at
each renewal and at once on an access change); the upload stops when the last of them leaves.
Sharing stays within an account because the relay gives links to a session's account only.
The relay cannot tell that account's devices apart, so a device that leaves for any reason but
its own stop (its right withdrawn, its tunnel session ended: a revoked device; its lease
lapsed) ends the shared session for everyone: the relay refuses its links from then on, and
the devices still watching start a new session with a new key (their players restart a lost
live view by themselves). Otherwise a revoked device, which still holds the key, could fetch
the parts of a session its account's other devices keep alive (docs/design/remote-media.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from recorder.clock import Clock
from recorder.remote.errors import RightsRefused
from recorder.remote.sealed_uploads import SessionUploads
from recorder.remote.sealing import b64url, new_key
from recorder.remote.uploads import ObjectUploader, RelayRights

log = logging.getLogger(__name__)
LEASE_S = 20.0
MAX_SESSIONS_PER_TUNNEL = 8
STOPPED_BY_DEVICE = "stopped by the device"  # the one way to leave a shared live view alone


@dataclass(eq=False)
class MediaSession:
    msid: str
    kind: str
    owner: str  # the tunnel session (sid) it was asked from
    user_id: int
    uploads: SessionUploads
    key: bytes
    lease_until: float  # monotonic
    work: Any = None  # LiveUpload / PlaybackUpload / None (a clip)
    task: asyncio.Task[None] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str = ""
    stop_reason: str = ""  # why `stop` cancelled its holder (which then finishes it)
    camera_id: str = ""  # the camera and right the device must keep holding to renew
    right: str = ""
    share: SharedLive | None = None  # the upload it watches with other devices (live)


@dataclass(eq=False)
class SharedLive:
    """One live upload watched by the devices in `viewers` (same account, camera, stream)."""

    account: str
    camera_id: str
    stream: str
    uploads: SessionUploads
    key: bytes
    work: Any
    task: asyncio.Task[Any]
    viewers: set[MediaSession] = field(default_factory=set)


class RemoteMedia:
    def __init__(
        self,
        rid: str,
        relay: RelayRights,
        uploader: ObjectUploader,
        clock: Clock,
        tunnel_alive: Callable[[str], bool],
        lease_s: float = LEASE_S,
    ) -> None:
        self.rid = rid
        self._relay = relay
        self._uploader = uploader
        self._clock = clock
        self._tunnel_alive = tunnel_alive
        self.lease_s = lease_s
        self.sessions: dict[tuple[str, str], MediaSession] = {}  # by (msid, device)
        self.shared: dict[tuple[str, str, str], SharedLive] = {}  # by (account, camera, stream)

    def _check_busy(self, owner: str) -> None:
        if sum(1 for s in self.sessions.values() if s.owner == owner) >= MAX_SESSIONS_PER_TUNNEL:
            raise RightsRefused(
                f"at most {MAX_SESSIONS_PER_TUNNEL} media sessions per device", code="busy"
            )

    async def open(self, kind: str, account: str, owner: str, user_id: int) -> MediaSession:
        self._check_busy(owner)
        grant = await self._relay.open(account, kind)
        key = new_key()
        uploads = SessionUploads(
            grant.msid, key, grant.rights, self._relay, self._uploader, self._clock
        )
        session = MediaSession(
            grant.msid, kind, owner, user_id, uploads, key, self._clock.monotonic() + self.lease_s
        )
        self.sessions[session.msid, owner] = session
        return session

    async def join_live(
        self,
        account: str,
        owner: str,
        user_id: int,
        camera_id: str,
        stream: str,
        make_work: Callable[[SessionUploads], Any],
    ) -> MediaSession:
        """A device's live view of `camera_id`'s `stream`: it joins the upload a device of the
        same account already runs, or starts one (`make_work(uploads)` -> a LiveUpload)."""
        key = (account, camera_id, stream)
        share = self.shared.get(key)
        if share is None or share.task.done():
            session = await self.open("live", account, owner, user_id)
            work = make_work(session.uploads)
            task = asyncio.create_task(work.run(), name=f"media-live-{session.msid}")
            share = SharedLive(account, camera_id, stream, session.uploads, session.key, work, task)
            self.shared[key] = share
        else:
            self._check_busy(owner)
            lease_until = self._clock.monotonic() + self.lease_s
            session = MediaSession(
                share.uploads.msid, "live", owner, user_id, share.uploads, share.key, lease_until
            )
            self.sessions[session.msid, owner] = session
        session.camera_id, session.share, session.work = camera_id, share, share.work
        share.viewers.add(session)
        session.task = asyncio.create_task(self._hold(session, None), name="media-viewer")
        return session

    def start(
        self, session: MediaSession, work: Any, run: Callable[[], Coroutine[Any, Any, Any]]
    ) -> None:
        session.work = work
        session.task = asyncio.create_task(self._hold(session, run), name=f"media-{session.msid}")

    async def _hold(
        self, session: MediaSession, run: Callable[[], Coroutine[Any, Any, Any]] | None
    ) -> None:
        """Until the device's lease lapses, its tunnel session ends or the upload stops.
        `run` is the session's own upload; None: it watches its share's."""
        share = session.share
        if share is not None:
            worker: asyncio.Task[Any] = share.task
        else:
            assert run is not None
            worker = asyncio.create_task(run())
        reason = "lease lapsed"
        try:
            while True:
                left = session.lease_until - self._clock.monotonic()
                if left <= 0:
                    break
                if not self._tunnel_alive(session.owner):
                    reason = "the device's tunnel session ended"
                    break
                done, _ = await asyncio.wait([worker], timeout=min(left, 1.0))
                if done:
                    exc = None if worker.cancelled() else worker.exception()
                    reason = f"upload stopped: {exc}" if exc else "finished"
                    if exc is None:  # a finished upload (playback) still holds its lease
                        worker = asyncio.create_task(session.ended.wait())
                        continue
                    break
        finally:
            if share is None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            await self._finish(session, session.stop_reason or reason)

    def lease(self, msid: str, owner: str) -> MediaSession | None:
        """Renew a session's lease; None if there is no such session for this device."""
        session = self.sessions.get((msid, owner))
        if session is None or session.ended.is_set():
            return None
        session.lease_until = self._clock.monotonic() + self.lease_s
        return session

    async def stop(self, msid: str, owner: str, reason: str = STOPPED_BY_DEVICE) -> bool:
        session = self.sessions.get((msid, owner))
        if session is None:
            return False
        if session.task is not None:
            session.stop_reason = reason
            session.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session.task
        await self._finish(session, reason)
        return True

    async def _finish(self, session: MediaSession, reason: str) -> None:
        if session.ended.is_set():
            return
        session.ended.set()
        session.end_reason = reason
        self.sessions.pop((session.msid, session.owner), None)
        share = session.share
        if share is not None:
            share.viewers.discard(session)
            if share.viewers and reason == STOPPED_BY_DEVICE:  # the upload goes on for the others
                log.info("remote live %s: a viewer left (%s)", session.msid, reason)
                return
            for other in list(share.viewers):  # their next renewal is refused: a new session
                other.ended.set()
                other.end_reason = f"a device watching the same upload left ({reason})"
                self.sessions.pop((other.msid, other.owner), None)
                if other.task is not None:
                    other.task.cancel()
            share.viewers.clear()
            key = (share.account, share.camera_id, share.stream)
            if self.shared.get(key) is share:
                del self.shared[key]
            share.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await share.task
        log.info("remote media session %s ended: %s", session.msid, reason)
        with contextlib.suppress(RightsRefused):
            await self._relay.end(session.msid)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await self.stop(session.msid, session.owner)

    def answer(self, session: MediaSession) -> dict[str, Any]:
        """What the device needs (only ever sent inside the sealed channel)."""
        return {
            "msid": session.msid,
            "rid": self.rid,
            "kind": session.kind,
            "prefix": session.uploads.prefix,
            "key": b64url(session.key),
            "lease_s": self.lease_s,
        }
