"""A dead link: notifications whose delivery fails for transport reasons wait on disk, bounded,
and arrive once when the push service is back; rights are checked again before they go."""

from __future__ import annotations

from pathlib import Path

from recorder.push.store import PushStore
from sim.push_service import LocalPushService
from tests.push.conftest import Rig, event, make_rig


async def test_transport_failures_wait_on_disk_and_arrive_once(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front", "yard"))
    _, browser = await rig.subscribe(owner, "phone")
    rig.service.answer("phone", 0, 500, 500, 500)  # link down, then a failing service
    first, second = event("front"), event("yard")
    await rig.push.dispatch(first)
    await rig.push.dispatch(second)
    assert len(rig.service.to("phone")) == 4  # the drop is not retried at once; 5xx are
    assert await rig.store.queued() == 2 and rig.push.stats.queued == 2
    # The same event announced again (after the cooldown) neither sends nor queues twice.
    rig.clock.advance(rig.push.config.cooldown_s + 1)
    await rig.push.dispatch(first)
    assert await rig.store.queued() == 2 and len(rig.service.to("phone")) == 4
    assert await rig.push.flush_outbox() == 2
    arrived = await rig.service.until("phone", 6)
    assert sorted(browser.decrypt(r.body)["event_id"] for r in arrived[4:]) == sorted(
        [first.id, second.id]
    )
    assert await rig.store.queued() == 0 and rig.push.stats.notified == 2
    rig.clock.advance(600)
    assert await rig.push.flush_outbox() == 0
    assert len(rig.service.to("phone")) == 6


async def test_a_failed_retry_waits_longer(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front",))
    await rig.subscribe(owner, "phone")
    rig.service.answer("phone", 0, 0)
    await rig.push.dispatch(event("front"))
    assert await rig.push.flush_outbox() == 0  # still down: postponed, not removed
    assert await rig.store.queued() == 1 and len(rig.service.to("phone")) == 2
    assert await rig.store.due(10) == []  # not due again until its backoff has passed
    rig.clock.advance(rig.push.config.retry_interval_s * 2 + 1)
    assert await rig.push.flush_outbox() == 1
    assert len(rig.service.to("phone")) == 3 and await rig.store.queued() == 0


async def test_rights_ended_while_queued_means_never_sent(rig: Rig) -> None:
    owner = await rig.user("owner", cameras=("front",))
    await rig.subscribe(owner, "phone")
    rig.service.answer("phone", 0)
    await rig.push.dispatch(event("front"))
    assert await rig.store.queued() == 1
    await rig.accounts.set_rights(owner.id, "front", frozenset())
    rig.clock.advance(rig.push.config.retry_interval_s + 1)
    assert await rig.push.flush_outbox() == 1
    assert len(rig.service.to("phone")) == 1 and await rig.store.queued() == 0


async def test_the_outbox_is_bounded_and_old_notifications_expire(
    tmp_path: Path, push_service: LocalPushService
) -> None:
    async for rig in make_rig(tmp_path, push_service, queue_max=3, cooldown_s=0, attempts=1):
        owner = await rig.user("owner", cameras=("front",))
        await rig.subscribe(owner, "phone")
        rig.service.answer("phone", *([0] * 5))
        events = [event("front") for _ in range(5)]
        for started in events:
            await rig.push.dispatch(started)
        assert await rig.store.queued() == 3
        assert rig.push.stats.dropped == 2
        status = await rig.push.status()
        assert status["outbox"] == 3 and status["dropped"] == 2
        store: PushStore = rig.store
        kept = [q.event_id for q in await store.due(10)]
        assert kept == [e.id for e in events[2:]]  # the oldest went first
        rig.clock.advance(rig.push.config.ttl_s + 1)  # older than their TTL: not worth sending
        assert await rig.push.flush_outbox() == 3
        assert rig.push.stats.dropped == 5 and len(rig.service.to("phone")) == 5
