"""Who is told and how: the real PushService and DirectSender against a push service on
loopback, decrypting what arrives as a browser would."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from recorder.accounts.model import Role
from recorder.motion.bus import EventBus
from recorder.motion.model import EventNotice, NoticeKind
from recorder.push.payload import topic_for
from recorder.push.quiet import QuietHours
from recorder.push.service import PENDING_EVENTS
from tests.push.conftest import Rig, event


async def test_a_notification_decrypts_to_the_event_with_vapid_and_delivery_headers(
    rig: Rig,
) -> None:
    owner = await rig.user("owner", cameras=("front",))
    _subscription, browser = await rig.subscribe(owner, "owner-phone")
    started = event("front", kind="doorbell", label="visitor")
    await rig.push.dispatch(started)
    (request,) = await rig.service.until("owner-phone", 1)
    message = browser.decrypt(request.body)
    assert message["event_id"] == started.id
    assert message["camera_id"] == "front" and message["camera_name"] == "Front door"
    assert message["thumbnail"] == f"/api/v1/events/{started.id}/thumbnail.jpg"
    assert message["url"] == f"/events?event={started.id}"
    assert message["title"] == "Front door" and message["body"] == "doorbell: visitor"
    assert message["at_ms"] == started.start_ms and message["kind"] == "doorbell"
    assert len(request.body) < 4096
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == "3600" and headers["urgency"] == "high"
    assert headers["topic"] == topic_for("front") and len(headers["topic"]) <= 32
    # VAPID (RFC 8292): a JWT for this origin signed by the key browsers subscribed with.
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == rig.vapid.public_key
    raw = rig.vapid.public_key + "=" * (-len(rig.vapid.public_key) % 4)
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.urlsafe_b64decode(raw)
    )
    parts = urlsplit(rig.service.endpoint("owner-phone"))
    claims = jwt.decode(
        fields["t"], public, algorithms=["ES256"], audience=f"{parts.scheme}://{parts.netloc}"
    )
    assert claims["sub"] == rig.push.config.subject and claims["exp"] > claims.get("iat", 0)
    # A key that is not the recorder's does not verify it.
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    try:
        jwt.decode(fields["t"], other, algorithms=["ES256"], audience=claims["aud"])
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a foreign key verified the VAPID token")


async def test_only_users_allowed_to_see_the_camera_are_told_checked_at_send_time(
    rig: Rig,
) -> None:
    front = await rig.user("front-viewer", cameras=("front",))
    yard = await rig.user("yard-viewer", cameras=("yard",))
    later_disabled = await rig.user("leaver", cameras=("front",))
    later_revoked = await rig.user("moved", cameras=("front",))
    admin = await rig.user("boss", role=Role.ADMIN)
    for user in (front, yard, later_disabled, later_revoked, admin):
        await rig.subscribe(user, user.username)
    await rig.accounts.update(later_disabled.id, disabled=True)
    await rig.accounts.set_rights(later_revoked.id, "front", frozenset())
    await rig.push.dispatch(event("front"))
    await rig.service.until("front-viewer", 1)
    await rig.service.until("boss", 1)
    for nobody in ("yard-viewer", "leaver", "moved"):
        assert rig.service.to(nobody) == []


async def test_camera_choices_cooldown_and_dedupe(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front", "yard"))
    await rig.subscribe(owner, "only-yard", cameras=frozenset({"yard"}))
    await rig.subscribe(owner, "all")
    first = event("front")
    await rig.push.dispatch(first)
    await rig.service.until("all", 1)
    assert rig.service.to("only-yard") == []
    # The same event again (a restart re-announcing it) notifies nobody twice.
    rig.clock.advance(rig.push.config.cooldown_s + 1)
    await rig.push.dispatch(first)
    # Within the cooldown, a second event of the camera is not notified; another camera is.
    rig.clock.advance(1)
    await rig.push.dispatch(event("front"))
    await rig.push.dispatch(event("yard"))
    await rig.service.until("only-yard", 1)
    await rig.service.until("all", 2)
    assert rig.push.stats.cooldown == 1
    assert len(rig.service.to("all")) == 2
    # After the cooldown, the camera notifies again.
    rig.clock.advance(rig.push.config.cooldown_s)
    await rig.push.dispatch(event("front"))
    await rig.service.until("all", 3)


async def test_quiet_hours_in_the_subscribers_zone_suppress(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front",))
    now = dt.datetime.fromtimestamp(rig.clock.now(), dt.UTC)
    local = now.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    start = (local - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (local + dt.timedelta(hours=1)).strftime("%H:%M")
    await rig.subscribe(owner, "sleeping", quiet=QuietHours(start, end, "+05:30"))
    await rig.subscribe(owner, "awake", quiet=QuietHours(end, start, "+05:30"))
    await rig.push.dispatch(event("front"))
    await rig.service.until("awake", 1)
    assert rig.service.to("sleeping") == [] and rig.push.stats.quiet == 1


async def test_gone_subscriptions_are_removed(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front",))
    gone, _ = await rig.subscribe(owner, "gone")
    missing, _ = await rig.subscribe(owner, "missing")
    kept, _ = await rig.subscribe(owner, "kept")
    rig.service.answer("gone", 410)
    rig.service.answer("missing", 404)
    await rig.push.dispatch(event("front"))
    assert [s.id for s in await rig.store.of_user(owner.id)] == [kept.id]
    assert rig.push.stats.gone == 2 and rig.push.stats.notified == 1
    assert gone.id != missing.id


async def test_429_is_retried_after_retry_after_and_5xx_with_backoff(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front",))
    _, browser = await rig.subscribe(owner, "busy")
    rig.service.answer("busy", (429, {"Retry-After": "0.3"}), 503)
    started = event("front")
    await rig.push.dispatch(started)
    tries = rig.service.to("busy")
    assert len(tries) == 3
    assert tries[1].at - tries[0].at >= 0.2  # Retry-After honoured (capped at backoff_cap_s)
    assert browser.decrypt(tries[2].body)["event_id"] == started.id
    assert rig.push.stats.notified == 1 and await rig.store.queued() == 0


async def test_the_bus_hands_over_starts_without_waiting_and_the_dispatcher_sends(
    rig: Rig,
) -> None:
    owner = await rig.user("owner", cameras=("front",))
    _, browser = await rig.subscribe(owner, "phone")
    bus = EventBus()
    bus.add_listener(rig.push.on_notice)
    started = event("front")
    # Nothing runs yet: publishing returns at once, the start waits in the bounded queue.
    bus.publish(EventNotice(NoticeKind.UPDATE, started))
    bus.publish(EventNotice(NoticeKind.START, started))
    bus.publish(EventNotice(NoticeKind.END, started))
    assert rig.service.to("phone") == []
    stop = asyncio.Event()
    runner = asyncio.create_task(rig.push.run(stop))
    try:
        (request,) = await rig.service.until("phone", 1)
        assert browser.decrypt(request.body)["event_id"] == started.id
    finally:
        stop.set()
        await runner
    assert len(rig.service.to("phone")) == 1  # updates and ends are not notified


async def test_a_dispatcher_far_behind_loses_the_oldest_starts_and_counts_them(rig: Rig) -> None:
    for _ in range(PENDING_EVENTS + 3):
        rig.push.on_notice(EventNotice(NoticeKind.START, event("front")))
    assert rig.push.stats.events_lost == 3
