"""Push subscriptions, the notifications already sent (each event once per subscription) and
the on-disk queue of undelivered ones, in the site database (migrations 7 and 8).

The site database commits with synchronous=FULL, so writes for a fan-out are batched into one
statement each rather than one commit per subscriber.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from recorder.clock import Clock
from recorder.errors import Conflict, NotFound
from recorder.push.quiet import QuietHours
from recorder.site_db import SiteDatabase

T = TypeVar("T")
MAX_PER_USER = 20  # browsers and phones a user may register (the bench raises it)
BATCH = 400  # rows per multi-row statement (well under SQLite's variable limit)


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    device: str
    cameras: frozenset[str] | None  # None: every camera the user may see
    quiet: QuietHours | None
    created_ms: int
    last_ok_ms: int | None
    device_id: int | None = None  # made through the tunnel by this enrolled device
    server_key: str | None = None  # the VAPID key it was made with (None: the recorder's)

    def info(self) -> dict[str, object]:
        """The browser's PushSubscription shape, as pywebpush takes it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def wants(self, camera_id: str) -> bool:
        return self.cameras is None or camera_id in self.cameras


@dataclass(frozen=True)
class NewSubscription:
    endpoint: str
    p256dh: str
    auth: str
    device: str = ""
    cameras: frozenset[str] | None = None
    quiet: QuietHours | None = None


@dataclass(frozen=True)
class Queued:
    """An encrypted notification waiting in the outbox."""

    id: int
    subscription_id: int
    event_id: int
    camera_id: str
    body: bytes
    topic: str
    created_ms: int
    attempts: int


_ALIVE = (
    "(session_id IS NULL OR session_id IN (SELECT id FROM sessions WHERE revoked_ms IS NULL)) "
    "AND (device_id IS NULL OR device_id IN "
    "(SELECT id FROM tunnel_devices WHERE revoked_ms IS NULL))"
)
_COLUMNS = (
    "id, user_id, endpoint, p256dh, auth, device, cameras, quiet_start, quiet_end, time_zone, "
    "created_ms, last_ok_ms, device_id, server_key"
)


class PushStore:
    def __init__(self, db: SiteDatabase, clock: Clock, max_per_user: int = MAX_PER_USER) -> None:
        self._db = db
        self._clock = clock
        self.max_per_user = max_per_user

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # Subscriptions

    async def subscribe(
        self,
        user_id: int,
        new: NewSubscription,
        session_id: str | None = None,
        *,
        device_id: int | None = None,
        server_key: str | None = None,
    ) -> Subscription:
        """Store `new` for `user_id`, bound to the login `session_id` or, made through the
        tunnel, to the enrolled device `device_id` (neither: to nothing, for tests and tools);
        the same endpoint again replaces its keys, choices and binding (a browser
        re-subscribing, maybe after a new login), unless another user holds it. `server_key`:
        the VAPID public key the browser subscribed with."""
        conn = self._db.conn
        quiet = new.quiet
        cameras = None if new.cameras is None else json.dumps(sorted(new.cameras))
        values = (
            new.p256dh, new.auth, new.device, cameras,
            None if quiet is None else quiet.start, None if quiet is None else quiet.end,
            "UTC" if quiet is None else quiet.time_zone, session_id, device_id, server_key,
        )  # fmt: skip
        async with conn.execute(
            "SELECT id, user_id FROM push_subscriptions WHERE endpoint = ?", (new.endpoint,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            if int(row[1]) != user_id:
                raise Conflict("this endpoint is subscribed by another user")
            await conn.execute(
                "UPDATE push_subscriptions SET p256dh = ?, auth = ?, device = ?, cameras = ?, "
                "quiet_start = ?, quiet_end = ?, time_zone = ?, session_id = ?, device_id = ?, "
                "server_key = ? WHERE id = ?",
                (*values, int(row[0])),
            )
            return await self.get(int(row[0]))
        async with conn.execute(
            "SELECT COUNT(*) FROM push_subscriptions WHERE user_id = ?", (user_id,)
        ) as cursor:
            count = await cursor.fetchone()
        if count is not None and int(count[0]) >= self.max_per_user:
            raise Conflict(f"at most {self.max_per_user} subscriptions per user: delete one first")
        try:
            cursor = await conn.execute(
                "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, device, "
                "cameras, quiet_start, quiet_end, time_zone, session_id, device_id, server_key, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user_id, new.endpoint, *values, self._now_ms()),
            )
        except sqlite3.IntegrityError:
            raise Conflict("this endpoint is already subscribed") from None
        assert cursor.lastrowid is not None
        return await self.get(cursor.lastrowid)

    async def get(self, subscription_id: int) -> Subscription:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM push_subscriptions WHERE id = ?", (subscription_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no push subscription {subscription_id}")
        return _subscription(row)

    async def of_user(self, user_id: int) -> list[Subscription]:
        async with self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM push_subscriptions WHERE user_id = ? ORDER BY id", (user_id,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [_subscription(row) for row in rows]

    async def active(self, subscription_id: int | None = None) -> list[Subscription]:
        """Subscriptions (all, or the one with that id) whose login has not ended: checked here
        at send time too, so an ended session stops notifications even before `forget_session`
        has run."""
        sql = f"SELECT {_COLUMNS} FROM push_subscriptions WHERE {_ALIVE}"
        args: tuple[int, ...] = ()
        if subscription_id is not None:
            sql, args = sql + " AND id = ?", (subscription_id,)
        async with self._db.conn.execute(sql + " ORDER BY id", args) as cursor:
            rows = await cursor.fetchall()
        return [_subscription(row) for row in rows]

    async def forget_session(self, session_id: str) -> None:
        await self._db.conn.execute(
            "DELETE FROM push_subscriptions WHERE session_id = ?", (session_id,)
        )

    async def forget_device(self, device_id: int) -> None:
        """The subscriptions an enrolled device made (it was revoked)."""
        await self._db.conn.execute(
            "DELETE FROM push_subscriptions WHERE device_id = ?", (device_id,)
        )

    async def forget_sessions_of(self, user_id: int) -> None:
        """Every session-bound subscription of `user_id` (all their logins ended)."""
        await self._db.conn.execute(
            "DELETE FROM push_subscriptions WHERE user_id = ? AND session_id IS NOT NULL "
            f"AND NOT ({_ALIVE})",
            (user_id,),
        )

    async def delete(self, subscription_id: int, user_id: int | None = None) -> bool:
        """Remove a subscription (only if it is `user_id`'s, when given); False if none was."""
        sql, args = "DELETE FROM push_subscriptions WHERE id = ?", [subscription_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        cursor = await self._db.conn.execute(sql, args)
        return cursor.rowcount == 1

    async def delivered(self, subscription_ids: Iterable[int]) -> None:
        ids = list(subscription_ids)
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            await self._db.conn.execute(
                f"UPDATE push_subscriptions SET last_ok_ms = ? WHERE id IN ({marks})",
                (self._now_ms(), *chunk),
            )

    # Each event once per subscription

    async def claim(self, event_id: int, subscription_ids: Sequence[int]) -> list[int]:
        """Of `subscription_ids`, those not yet notified of `event_id`, now marked as notified.
        (One dispatcher claims at a time, so the read-then-insert does not race.)"""
        async with self._db.conn.execute(
            "SELECT subscription_id FROM push_sent WHERE event_id = ?", (event_id,)
        ) as cursor:
            done = {int(row[0]) for row in await cursor.fetchall()}
        fresh = [s for s in subscription_ids if s not in done]
        now = self._now_ms()
        for chunk in _chunks(fresh):
            await self._db.conn.execute(
                "INSERT OR IGNORE INTO push_sent (event_id, subscription_id, at_ms) VALUES "
                + ",".join("(?, ?, ?)" for _ in chunk),
                [v for s in chunk for v in (event_id, s, now)],
            )
        return fresh

    async def forget_sent_before(self, before_ms: int) -> None:
        await self._db.conn.execute("DELETE FROM push_sent WHERE at_ms < ?", (before_ms,))

    # The outbox

    async def enqueue(self, items: Sequence[tuple[int, int, str, bytes, str]], limit: int) -> int:
        """Queue (subscription_id, event_id, camera_id, body, topic) rows; keep at most `limit`
        rows, dropping the oldest. Returns how many were dropped."""
        now = self._now_ms()
        for chunk in _chunks(list(items)):
            await self._db.conn.execute(
                "INSERT INTO push_outbox (subscription_id, event_id, camera_id, body, topic, "
                "created_ms, next_ms) VALUES " + ",".join("(?, ?, ?, ?, ?, ?, ?)" for _ in chunk),
                [v for item in chunk for v in (*item, now, now)],
            )
        size = await self.queued()
        if size <= limit:
            return 0
        await self._db.conn.execute(
            "DELETE FROM push_outbox WHERE id IN (SELECT id FROM push_outbox ORDER BY id LIMIT ?)",
            (size - limit,),
        )
        return size - limit

    async def queued(self) -> int:
        async with self._db.conn.execute("SELECT COUNT(*) FROM push_outbox") as cursor:
            row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def due(self, limit: int) -> list[Queued]:
        async with self._db.conn.execute(
            "SELECT id, subscription_id, event_id, camera_id, body, topic, created_ms, attempts "
            "FROM push_outbox WHERE next_ms <= ? ORDER BY id LIMIT ?",
            (self._now_ms(), limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            Queued(int(r[0]), int(r[1]), int(r[2]), str(r[3]), bytes(r[4]), str(r[5]),
                   int(r[6]), int(r[7]))
            for r in rows
        ]  # fmt: skip

    async def make_due(self) -> None:
        """Everything in the outbox is due now (the link it waited for is back)."""
        await self._db.conn.execute(
            "UPDATE push_outbox SET next_ms = ? WHERE next_ms > ?", (self._now_ms(),) * 2
        )

    async def dequeue(self, ids: Iterable[int]) -> None:
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            await self._db.conn.execute(f"DELETE FROM push_outbox WHERE id IN ({marks})", chunk)

    async def postpone(self, ids: Iterable[int], next_ms: int) -> None:
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            await self._db.conn.execute(
                "UPDATE push_outbox SET attempts = attempts + 1, next_ms = ? "
                f"WHERE id IN ({marks})",
                (next_ms, *chunk),
            )


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def _subscription(row: sqlite3.Row | tuple[object, ...]) -> Subscription:
    (id_, user_id, endpoint, p256dh, auth, device, cameras, q_start, q_end, zone,
     created_ms, last_ok_ms, device_id, server_key) = row  # fmt: skip
    quiet = None
    if q_start is not None and q_end is not None:
        quiet = QuietHours(str(q_start), str(q_end), str(zone))
    return Subscription(
        id=int(str(id_)),
        user_id=int(str(user_id)),
        endpoint=str(endpoint),
        p256dh=str(p256dh),
        auth=str(auth),
        device=str(device),
        cameras=None if cameras is None else frozenset(json.loads(str(cameras))),
        quiet=quiet,
        created_ms=int(str(created_ms)),
        last_ok_ms=None if last_ok_ms is None else int(str(last_ok_ms)),
        device_id=None if device_id is None else int(str(device_id)),
        server_key=None if server_key is None else str(server_key),
    )
