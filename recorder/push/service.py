"""Who is told about an event, and getting it to them: the recorder's Web Push service.

At an event's start (a bus notice; never blocking the event path: the notice goes into a
bounded in-memory queue that one dispatcher task drains):
1. per-camera cooldown: an event within `cooldown_s` of the camera's last notified one is not
   notified (Frigate-like; a burst of motion is one alert);
2. recipients, decided now, not at subscribe time: the subscription's user must exist, not be
   disabled, and hold the playback right on the camera (events are part of its recordings);
   the subscription must want that camera and not be in its quiet hours, and the login that
   made it must not have ended (logout, password reset, disabled account: see `on_access`);
3. each (event, subscription) is claimed once in the site DB: an event notifies a subscription
   at most once, across retries and restarts;
4. each notification is encrypted for its subscription and delivered concurrently, at most
   `concurrency` at once; 404/410 delete the subscription; a transport failure (or 429/5xx after
   every try) goes to the on-disk outbox, bounded to `queue_max` (oldest dropped and counted),
   retried every `retry_interval_s` after re-checking the user's rights, dropped after `ttl_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.accounts.model import Principal, Right, User
from recorder.accounts.revocation import AccessChange, ChangeKind
from recorder.accounts.store import AccountStore
from recorder.cameras.registry import CameraRegistry
from recorder.clock import Clock
from recorder.errors import NotFound
from recorder.motion.model import EventNotice, MotionEvent, NoticeKind
from recorder.push.config import PushConfig
from recorder.push.payload import PushMessage, encode, encrypt, notification, topic_for
from recorder.push.relay_sender import RelayLink, RelayPushKey, RelaySender, RoutedSender
from recorder.push.sender import Outcome, PushSender
from recorder.push.store import PushStore, Queued, Subscription

log = logging.getLogger(__name__)

PENDING_EVENTS = 1000  # event starts waiting for the dispatcher
SENT_KEPT_MS = 7 * 86_400_000  # dedupe rows older than this are pruned (events are not re-sent)
MAX_BACKOFF_MS = 3_600_000


@dataclass
class PushStats:
    notified: int = 0  # notifications delivered to a push service
    gone: int = 0  # subscriptions removed on 404/410
    rejected: int = 0
    queued: int = 0  # notifications put in the outbox
    dropped: int = 0  # outbox overflow or expiry
    cooldown: int = 0  # events not notified because of the camera's cooldown
    quiet: int = 0  # notifications skipped for quiet hours
    events_lost: int = 0  # event starts lost because the dispatcher was that far behind


class PushService:
    def __init__(
        self,
        config: PushConfig,
        store: PushStore,
        accounts: AccountStore,
        cameras: CameraRegistry,
        sender: PushSender,
        clock: Clock,
        public_key: str = "",
    ) -> None:
        self.config = config
        self._own_key = public_key  # the recorder's VAPID applicationServerKey
        self._relay_key: RelayPushKey | None = None
        self._remote_thumbnail: Callable[[MotionEvent], dict[str, str] | None] = lambda _: None
        self.store = store
        self._accounts = accounts
        self._cameras = cameras
        self._sender = sender
        self._clock = clock
        self._pending: asyncio.Queue[MotionEvent] = asyncio.Queue(PENDING_EVENTS)
        self._last: dict[str, float] = {}  # camera id -> monotonic time of its last notification
        self._wake_outbox = asyncio.Event()
        self._all_due = False  # the next outbox round first makes every row due
        self._tasks: set[asyncio.Future[None]] = set()
        self.stats = PushStats()

    @property
    def public_key(self) -> str:
        """What browsers subscribe with (`GET /push/public-key`): the relay's key when the
        recorder has a relay (the relay signs), else the recorder's; "" while a configured
        relay has never been reached (its key is not known yet)."""
        if self._relay_key is not None:
            return self._relay_key.get() or ""
        return self._own_key

    def use_relay(self, link: RelayLink, key_file: Path) -> None:
        """Send subscriptions made with the relay's key through the relay (`link`: the tunnel
        client); the others still go directly."""
        self._relay_key = RelayPushKey(key_file, link)
        self._sender = RoutedSender(self._sender, RelaySender(link), self._relay_key)

    def use_remote_thumbnails(
        self, reference: Callable[[MotionEvent], dict[str, str] | None]
    ) -> None:
        """Name the relay's sealed copy of each event's thumbnail in notifications (`reference`:
        the remote media service's), so a phone away from home can show it."""
        self._remote_thumbnail = reference

    def relay_connected(self) -> None:
        """The tunnel is (back) up: deliver what waited for it, now (the tunnel client calls
        this on every connect)."""
        if self._relay_key is not None:
            self._relay_key.get()  # remember the key the relay just gave
        self.retry_now(everything=True)

    # Listeners: never block, never raise into the motion pipeline or the account store.

    def on_access(self, change: AccessChange) -> None:
        """A login ended: its subscriptions go (a logged-out phone gets no more alerts). Rights
        and account changes need nothing here: they are read again at every send."""
        if change.kind is ChangeKind.SESSION_ENDED and change.session_id is not None:
            self._spawn(self.store.forget_session(change.session_id))
        elif change.kind is ChangeKind.SESSIONS_ENDED and change.user_id is not None:
            self._spawn(self.store.forget_sessions_of(change.user_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_notice(self, notice: EventNotice) -> None:
        if notice.kind is not NoticeKind.START or not self.config.enabled:
            return
        if self._pending.full():
            self._pending.get_nowait()
            self.stats.events_lost += 1
            log.warning("push: dispatcher behind, an event start was not notified")
        self._pending.put_nowait(notice.event)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch event starts and retry the outbox until `stop` is set."""
        tasks = [
            asyncio.create_task(self._dispatch_loop(), name="push-dispatch"),
            asyncio.create_task(self._outbox_loop(), name="push-outbox"),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._sender.close()

    async def _dispatch_loop(self) -> None:
        while True:
            event = await self._pending.get()
            try:
                await self.dispatch(event)
            except Exception:  # one bad event (or a locked database) must not end alerts
                log.exception("push: event %d not notified", event.id)

    # Deciding and sending

    async def dispatch(self, event: MotionEvent) -> None:
        camera_id = event.camera_id
        now = self._clock.monotonic()
        last = self._last.get(camera_id)
        if last is not None and now - last < self.config.cooldown_s:
            self.stats.cooldown += 1
            return
        recipients = await self._recipients(camera_id, await self.store.active())
        if not recipients:
            return
        self._last[camera_id] = now
        fresh = set(await self.store.claim(event.id, [s.id for s in recipients]))
        targets = [s for s in recipients if s.id in fresh]
        try:
            name = self._cameras.get(camera_id).name
        except NotFound:
            name = camera_id
        data = encode(notification(event, name, self._remote_thumbnail(event)))
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(subscription: Subscription) -> tuple[Subscription, bytes, Outcome]:
            async with gate:
                body = await asyncio.to_thread(encrypt, subscription.info(), data)
                message = self._message(subscription, body, camera_id, event.id)
                outcome = await self._sender.deliver(message)
                return subscription, body, outcome

        results = await asyncio.gather(*(one(s) for s in targets))
        later = [(s.id, event.id, camera_id, body, topic_for(camera_id))
                 for s, body, outcome in results if outcome is Outcome.RETRY_LATER]  # fmt: skip
        await self._settle([(s, o) for s, _, o in results])
        if later:
            self.stats.queued += len(later)
            self._count_dropped(await self.store.enqueue(later, self.config.queue_max))
        await self.store.forget_sent_before(int(self._clock.now() * 1000) - SENT_KEPT_MS)

    def _message(
        self, subscription: Subscription, body: bytes, camera_id: str, event_id: int
    ) -> PushMessage:
        return PushMessage(
            subscription.endpoint, body, self.config.ttl_s, self.config.urgency,
            topic_for(camera_id), event_id, subscription.server_key,
        )  # fmt: skip

    async def _recipients(
        self, camera_id: str, subscriptions: Sequence[Subscription]
    ) -> list[Subscription]:
        users: dict[int, User | None] = {}
        chosen = []
        at = self._clock.now()
        for subscription in subscriptions:
            if not subscription.wants(camera_id):
                continue
            if subscription.user_id not in users:
                users[subscription.user_id] = await self._user(subscription.user_id)
            user = users[subscription.user_id]
            if user is None or not _may_see(user, camera_id):
                continue
            if subscription.quiet is not None and subscription.quiet.covers(at):
                self.stats.quiet += 1
                continue
            chosen.append(subscription)
        return chosen

    async def _user(self, user_id: int) -> User | None:
        try:
            user = await self._accounts.get(user_id)
        except NotFound:
            return None
        return None if user.disabled else user

    async def _settle(self, results: Sequence[tuple[Subscription, Outcome]]) -> None:
        ok = [s.id for s, o in results if o is Outcome.DELIVERED]
        self.stats.notified += len(ok)
        await self.store.delivered(ok)
        for subscription, outcome in results:
            if outcome is Outcome.GONE:
                self.stats.gone += 1
                await self.store.delete(subscription.id)
                log.info("push: subscription %d is gone (404/410): removed", subscription.id)
            elif outcome is Outcome.REJECTED:
                self.stats.rejected += 1

    def _count_dropped(self, dropped: int) -> None:
        if dropped:
            self.stats.dropped += dropped
            log.warning("push: outbox full, dropped the %d oldest notification(s)", dropped)

    # The outbox: what a dead link left undelivered

    def retry_now(self, *, everything: bool = False) -> None:
        """Retry the due part of the outbox at once; `everything`: also what was postponed
        (backoff), because the link it failed on is back."""
        self._all_due = self._all_due or everything
        self._wake_outbox.set()

    async def _outbox_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_outbox.wait(), self.config.retry_interval_s)
            self._wake_outbox.clear()
            try:
                if self._all_due:
                    self._all_due = False
                    await self.store.make_due()
                while await self.flush_outbox():
                    pass
            except Exception:  # retried at the next interval
                log.exception("push: outbox retry failed")

    async def flush_outbox(self) -> int:
        """Try one batch of due notifications; returns how many left the outbox."""
        due = await self.store.due(self.config.concurrency * 4)
        if not due:
            return 0
        now_ms = int(self._clock.now() * 1000)
        expired = [q.id for q in due if now_ms - q.created_ms > self.config.ttl_s * 1000]
        if expired:
            await self.store.dequeue(expired)
            self._count_dropped(len(expired))
        live = [q for q in due if q.id not in set(expired)]
        gate = asyncio.Semaphore(self.config.concurrency)
        users: dict[int, User | None] = {}
        done: list[int] = []
        later: list[int] = []

        async def one(queued: Queued, subscription: Subscription) -> None:
            async with gate:
                message = self._message(
                    subscription, queued.body, queued.camera_id, queued.event_id
                )
                outcome = await self._sender.deliver(message)
            await self._settle([(subscription, outcome)])
            (later if outcome is Outcome.RETRY_LATER else done).append(queued.id)

        jobs = []
        for queued in live:
            found = await self.store.active(queued.subscription_id)
            if not found:
                done.append(queued.id)  # unsubscribed, gone or its login ended: never sent
                continue
            subscription = found[0]
            if subscription.user_id not in users:
                users[subscription.user_id] = await self._user(subscription.user_id)
            user = users[subscription.user_id]
            if user is None or not _may_see(user, queued.camera_id):
                done.append(queued.id)  # rights ended while it waited: never sent
                continue
            jobs.append(one(queued, subscription))
        await asyncio.gather(*jobs)
        await self.store.dequeue(done)
        if later:
            attempts = max(q.attempts for q in live if q.id in set(later)) + 1
            wait_ms = min(MAX_BACKOFF_MS, int(self.config.retry_interval_s * 1000) * 2**attempts)
            await self.store.postpone(later, now_ms + wait_ms)
        return len(done) + len(expired)  # removed from the outbox: the caller loops while > 0

    async def status(self) -> dict[str, int]:
        return {**vars(self.stats), "outbox": await self.store.queued()}


def _may_see(user: User, camera_id: str) -> bool:
    principal = Principal(user.id, user.username, user.role, user.rights)
    return principal.can(camera_id, Right.PLAYBACK)
