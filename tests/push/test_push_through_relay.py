"""The recorder's side of Web Push through the relay, with a fake relay link (the tunnel
client's Protocol): which subscriptions go through the relay, what it is handed, how its
answers are taken, and the outbox waiting for the link and emptied when it is back."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorder.push.relay_sender import RelayPushKey
from recorder.push.store import NewSubscription
from recorder.tunnel.errors import RelayUnavailable
from sim.push_service import Browser
from tests.e2e.harness import wait_for
from tests.push.conftest import Rig, event

RELAY_KEY = "BRelayKey" + "A" * 78


@dataclass
class FakeLink:
    push_key: str | None = RELAY_KEY
    is_connected: bool = True
    answers: list[dict[str, Any]] = field(default_factory=list)  # scripted, then delivered
    requests: list[dict[str, Any]] = field(default_factory=list)

    messages: int = 0

    async def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if not self.is_connected:
            raise RelayUnavailable("not connected to the relay")
        self.messages += 1
        self.requests.extend(message["items"])
        if self.answers:
            return self.answers.pop(0)
        results = [{"outcome": "delivered", "status": 201} for _ in message["items"]]
        return {"t": "pushed", "ref": "r", "results": results}


async def relayed(rig: Rig, link: FakeLink, tmp_path: Path, name: str, **extra: Any) -> Browser:
    rig.push.use_relay(link, tmp_path / "relay-vapid.pub")
    owner = await rig.user(name, cameras=("front", "yard"))
    browser = Browser()
    keys = browser.keys()
    new = NewSubscription(rig.service.endpoint(name), keys["p256dh"], keys["auth"], **extra)
    await rig.store.subscribe(owner.id, new, server_key=rig.push.public_key)
    return browser


def decrypt(browser: Browser, request: dict[str, Any]) -> dict[str, Any]:
    body = request["body"]
    return browser.decrypt(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


async def test_a_subscription_made_with_the_relay_key_goes_through_the_relay(
    rig: Rig, tmp_path: Path
) -> None:
    link = FakeLink()
    browser = await relayed(rig, link, tmp_path, "remote")
    assert rig.push.public_key == RELAY_KEY
    # One made earlier with the recorder's own key is still sent directly (only that key's
    # signature is accepted for it).
    lan_owner = await rig.user("lan", cameras=("front",))
    lan_browser = Browser()
    keys = lan_browser.keys()
    new = NewSubscription(rig.service.endpoint("lan"), keys["p256dh"], keys["auth"])
    await rig.store.subscribe(lan_owner.id, new, server_key=rig.vapid.public_key)

    started = event("front")
    await rig.push.dispatch(started)
    (request,) = link.requests
    assert request["ev"] == str(started.id)
    assert request["ep"] == rig.service.endpoint("remote")
    assert request["urg"] == "high" and request["ttl"] == rig.push.config.ttl_s
    assert decrypt(browser, request)["event_id"] == started.id  # only the browser can read it
    (direct,) = await rig.service.until("lan", 1)
    assert lan_browser.decrypt(direct.body)["event_id"] == started.id
    assert rig.service.to("remote") == []
    assert rig.push.stats.notified == 2


async def test_the_relays_answers_are_taken_like_the_push_services(
    rig: Rig, tmp_path: Path
) -> None:
    link = FakeLink()
    await relayed(rig, link, tmp_path, "owner")
    link.answers = [
        {"t": "error", "code": "rate_limited", "reason": "slow down"},
        {"t": "pushed", "ref": "r", "results": [{"outcome": "rejected", "status": 400}]},
        {"t": "pushed", "ref": "r", "results": [{"outcome": "gone", "status": 410}]},
    ]
    await rig.push.dispatch(event("front"))
    assert await rig.store.queued() == 1  # rate limited: kept for later
    rig.clock.advance(rig.push.config.cooldown_s + 1)
    await rig.push.dispatch(event("yard"))
    assert rig.push.stats.rejected == 1 and await rig.store.queued() == 1
    rig.clock.advance(rig.push.config.retry_interval_s * 2 + 1)
    await rig.push.flush_outbox()
    assert rig.push.stats.gone == 1 and await rig.store.active() == []


async def test_while_the_link_is_down_notifications_wait_and_go_when_it_is_back(
    rig: Rig, tmp_path: Path
) -> None:
    link = FakeLink(is_connected=False)
    browser = await relayed(rig, link, tmp_path, "owner")
    first = event("front")
    await rig.push.dispatch(first)
    rig.clock.advance(rig.push.config.cooldown_s + 1)
    second = event("yard")
    await rig.push.dispatch(second)
    assert await rig.push.flush_outbox() == 0  # still down: postponed by its backoff
    assert await rig.store.queued() == 2 and await rig.store.due(10) == []
    stop = asyncio.Event()
    running = asyncio.create_task(rig.push.run(stop))
    try:
        link.is_connected = True
        rig.push.relay_connected()  # what the tunnel calls on connect: no waiting for backoff

        async def all_sent() -> bool:
            return len(link.requests) >= 2 and not await rig.store.queued()

        assert await wait_for(all_sent, 20, step_s=0.02)
    finally:
        stop.set()
        await running
    assert sorted(decrypt(browser, r)["event_id"] for r in link.requests) == sorted(
        [first.id, second.id]
    )


async def test_a_fan_out_shares_messages(rig: Rig, tmp_path: Path) -> None:
    link = FakeLink()
    rig.push.use_relay(link, tmp_path / "relay-vapid.pub")
    rig.store.max_per_user = 100
    owner = await rig.user("many", cameras=("front",))
    for n in range(40):
        keys = Browser().keys()
        new = NewSubscription(rig.service.endpoint(f"b{n}"), keys["p256dh"], keys["auth"])
        await rig.store.subscribe(owner.id, new, server_key=RELAY_KEY)
    await rig.push.dispatch(event("front"))
    assert len(link.requests) == 40 and rig.push.stats.notified == 40
    assert link.messages <= 20  # shared messages (a 32 KB frame holds about five)


async def test_the_relay_key_is_kept_for_when_the_relay_is_away(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "relay-vapid.pub"
    assert RelayPushKey(path, FakeLink(push_key=None)).get() is None  # never reached
    assert RelayPushKey(path, FakeLink()).get() == RELAY_KEY
    assert RelayPushKey(path, FakeLink(push_key=None, is_connected=False)).get() == RELAY_KEY
    assert path.read_text().strip() == RELAY_KEY
