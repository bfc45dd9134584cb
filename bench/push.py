"""Web Push benchmark: event start to the push service, and fan-out to many subscriptions.

    .venv/bin/python bench/push.py --json bench/out/push.json
    .venv/bin/python bench/push.py --smoke          # a few seconds: what the test suite runs

The real recorder runs in this process (API on loopback HTTP; its one camera unreachable, so
no video is decoded) with `[push] allow_loopback`, delivering to the loopback push service in
sim/push_service.py. Events are created deterministically through the signed webhook.
1. `event_to_push_s`: for `--events` events one after another, the time from posting the
   webhook to the push service receiving the notification (the recorder's event path, the
   dispatcher, encryption, VAPID signing and the POST); p50 and p95. Target p95 <= 1.5 s.
2. `fanout_s`: `--subscribers` subscriptions (1,000 by default), one event: posting the webhook
   to the last of them received. Target <= 10 s for 1,000. Every notification is decrypted
   afterwards to check it is the event's.

`--relay`: the same through the local relay (`skycam relay` as a child process, on loopback):
the recorder encrypts, hands each notification over its tunnel, and the relay signs with its
own VAPID key and delivers (docs/design/push.md, "Through the relay"). Every notification
received is checked to carry the relay's signature.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from cloud.local.process import RelayChild
from recorder.config import parse_config
from recorder.integrations.signature import sign
from recorder.service import Recorder
from sim.push_service import Browser, LocalPushService

TARGETS = {"event_to_push_p95_s": 1.5, "fanout_s": 10.0}


async def _until(check: Any, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the push service did not receive everything in time")
        await asyncio.sleep(0.005)


class Bench:
    def __init__(self, client: httpx.AsyncClient, pusher: LocalPushService, secret: str) -> None:
        self.client = client
        self.pusher = pusher
        self.secret = secret
        self.count = 0

    async def ring(self) -> tuple[int, float]:
        """Create one event through the webhook; returns its id and when it was posted."""
        self.count += 1
        body = json.dumps(
            {"camera_id": "bench", "kind": "doorbell", "label": f"ring {self.count}"}
        ).encode()
        stamp = int(time.time())
        sent = time.time()
        answer = await self.client.post(
            "/api/v1/hooks/bench",
            content=body,
            headers={
                "X-SkyCam-Timestamp": str(stamp),
                "X-SkyCam-Signature": sign(self.secret, stamp, body),
                "Content-Type": "application/json",
            },
        )
        answer.raise_for_status()
        return int(answer.json()["id"]), sent


async def run(
    events: int, subscribers: int, data_dir: Path, relay: RelayChild | None = None
) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    if relay is not None:
        sections["relay"] = {"url": relay.rest, "ws_url": relay.ws, "backoff_cap_s": 1}
    config = parse_config(
        {
            "data_dir": str(data_dir / "site"),
            "api": {"http_port": 0, "https": False},
            "push": {"allow_loopback": True, "cooldown_s": 0, "concurrency": 64},
            "cameras": [{"id": "bench", "main_url": "rtsp://127.0.0.1:9/unreachable"}],
            **sections,
        }
    )
    recorder = Recorder(config)
    shutdown = asyncio.Event()
    task = asyncio.create_task(recorder.run(shutdown))
    with LocalPushService() as pusher:
        try:
            await recorder.ready.wait()
            api = recorder.api
            assert api is not None and api.context.push is not None and api.first_password
            api.context.push.store.max_per_user = subscribers + 1  # one user, many browsers
            push = api.context.push
            if relay is not None:  # browsers subscribe with the relay's key once it is known
                await _until(lambda: bool(push.public_key) and api.tunnel.status()["connected"], 60)
            url = f"http://127.0.0.1:{api.server.http_port}"
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                login = await client.post(
                    "/api/v1/auth/login",
                    json={"username": "admin", "password": api.first_password},
                )
                client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                made = await client.post(
                    "/api/v1/integrations", json={"name": "bench", "cameras": ["bench"]}
                )
                bench = Bench(client, pusher, made.json()["secret"])
                results = await _measure(bench, client, events, subscribers)
                signer = {_vapid_key(r.headers) for r in pusher.received}
                assert signer == {push.public_key}, "not all signed with the expected key"
                results["through"] = "relay" if relay is not None else "direct"
                return results
        finally:
            shutdown.set()
            await task


def _vapid_key(headers: dict[str, str]) -> str:
    fields = dict(p.strip().split("=", 1) for p in headers["Authorization"][6:].split(","))
    return fields["k"]


async def _subscribe(client: httpx.AsyncClient, name: str, browser: Browser, endpoint: str) -> None:
    answer = await client.post(
        "/api/v1/push/subscriptions",
        json={"endpoint": endpoint, "keys": browser.keys(), "device": name},
    )
    answer.raise_for_status()


async def _measure(
    bench: Bench, client: httpx.AsyncClient, events: int, subscribers: int
) -> dict[str, Any]:
    pusher = bench.pusher
    one = Browser()
    await _subscribe(client, "one", one, pusher.endpoint("one"))
    latencies = []
    for _ in range(events):
        before = len(pusher.to("one"))
        event_id, sent = await bench.ring()
        await _until(lambda b=before: len(pusher.to("one")) > b, 30)
        received = pusher.to("one")[-1]
        assert one.decrypt(received.body)["event_id"] == event_id
        latencies.append(received.at - sent)
        await asyncio.sleep(0.05)  # events one after another, not a burst
    await client.delete(f"/api/v1/push/subscriptions/{(await _ids(client))[0]}")

    browsers = {f"fan{i}": Browser() for i in range(subscribers)}
    for name, browser in browsers.items():
        await _subscribe(client, name, browser, pusher.endpoint(name))
    start = len(pusher.received)
    event_id, sent = await bench.ring()
    await _until(lambda: len(pusher.received) - start >= subscribers, 120)
    arrived = pusher.received[start:]
    fanout_s = max(r.at for r in arrived) - sent
    for request in arrived:
        name = request.path.rsplit("/", 1)[-1]
        assert browsers[name].decrypt(request.body)["event_id"] == event_id
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return {
        "event_to_push_p50_s": round(statistics.median(latencies), 4),
        "event_to_push_p95_s": round(p95, 4),
        "event_to_push_samples_s": [round(x, 4) for x in latencies],
        "fanout_s": round(fanout_s, 3),
        "fanout_subscribers": subscribers,
        "fanout_first_s": round(min(r.at for r in arrived) - sent, 3),
        "setup": {"events": events, "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "targets": TARGETS,
    }


async def _ids(client: httpx.AsyncClient) -> list[int]:
    answer = await client.get("/api/v1/push/subscriptions")
    return [int(s["id"]) for s in answer.json()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results here")
    parser.add_argument("--smoke", action="store_true", help="5 events, 50 subscribers")
    parser.add_argument("--relay", action="store_true", help="through the local relay")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args(argv)
    events, subscribers = (5, 50) if args.smoke else (args.events, args.subscribers)
    with tempfile.TemporaryDirectory(prefix="skycam-push-bench-") as tmp:
        relay = None
        if args.relay:
            relay = RelayChild(
                Path(tmp) / "relay", ports=(0, 0, 0), echo_log=False,
                env={"SKYCAM_RELAY_PUSH_ALLOW_LOOPBACK": "true"},
            ).start()  # fmt: skip
        try:
            results = asyncio.run(run(events, subscribers, Path(tmp), relay))
        finally:
            if relay is not None:
                relay.stop()
    results["smoke"] = args.smoke
    print(f"event_to_push_s  p50 {results['event_to_push_p50_s']:.3f}  "
          f"p95 {results['event_to_push_p95_s']:.3f}  (target p95 <= 1.5)")  # fmt: skip
    print(f"fanout_s         {results['fanout_s']:.2f} for {subscribers} subscriptions "
          f"(first after {results['fanout_first_s']:.3f}; target <= 10 for 1000)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
