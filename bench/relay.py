"""Relay benchmark: recorders on one local relay host, reconnect after a restart, idle cost.

    .venv/bin/python bench/relay.py --json bench/out/relay.json            # 1000 recorders
    .venv/bin/python bench/relay.py --smoke --json bench/out/relay-smoke.json

Figures (docs/ref/bench.md):
- `recorders_connected` fake recorders that did the real challenge/connect to one `skycam relay`
  and answered a ping, with `memory_per_recorder_kb` (the relay's RSS growth divided by them);
- `reconnect_s`: after the relay restarts (SIGTERM, same ports), how long each recorder took to
  be back, from the moment the new relay announced itself (median, and the worst);
- `idle_messages_per_recorder_hour`: messages an idle recorder exchanges in an hour (sent and
  received: API Gateway bills both): the heartbeat measured on a relay whose idle limit and
  connection cap are scaled down 100 times, with the tunnel client's heartbeat (540 s) scaled
  the same way, plus a rollover (connect, `hello`, `ok`) every 6600 s, the client's setting;
- `idle_cost_usd_per_recorder_month` at the AWS list prices below (us-east-1, 2026).

- `brokered_rtt_ms`, `direct_rtt_ms`, `overhead_ms`, `rollover_failed_calls`: see
  bench/relay_tunnel.py (`--no-tunnel` skips them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import nacl.signing
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.output import add_output_arguments, emit_figures, environment
from cloud.chalicelib.ids import b64url
from cloud.chalicelib.recorders.identity import connect_message, recorder_id_for
from cloud.local.process import RelayChild

REPO = Path(__file__).resolve().parents[1]

# AWS list prices (us-east-1), USD.
PRICE_PER_MESSAGE = 1.00 / 1e6  # API Gateway WebSocket, first billion, per 32 KB message
PRICE_PER_CONNECTION_MINUTE = 0.25 / 1e6
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_PER_LAMBDA_GB_S = 0.0000166667
LAMBDA_GB, LAMBDA_S = 0.128, 0.020  # 128 MB, 20 ms billed per invocation (assumed)
PRICE_PER_WRITE_UNIT = 0.625 / 1e6  # DynamoDB on-demand
PRICE_PER_READ_UNIT = 0.125 / 1e6
# Item operations per event, counted from the router's code (docs/design/relay.md):
PING_IO = (1, 1)  # (reads, writes): connection lookup; last_seen
CONNECT_IO = (3, 10)  # challenge + $connect: nonce, profile, connection rows, audit
DISCONNECT_IO = (3, 6)
HELLO_IO = (1, 1)
MONTH_H = 730

SCALE = 100.0  # idle run: 10 min idle limit -> 6 s, 2 h cap -> 72 s, an hour -> 36 s
HEARTBEAT_S, ROLLOVER_S = 540.0, 6600.0  # the tunnel client's defaults


class Relay(RelayChild):
    """`skycam relay` in a process of its own, on any free ports."""

    def __init__(self, data: Path, idle_s: float, max_s: float) -> None:
        options = ("--idle-timeout", str(idle_s), "--max-connection", str(max_s))
        super().__init__(data, (0, 0, 0), options=options, cwd=REPO, echo_log=False)

    def start(self, timeout_s: float = 120) -> Self:
        return super().start(timeout_s)

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)


@dataclass
class FakeRecorder:
    """The least a recorder does on the relay: prove its key, keep one connection, heartbeat."""

    key: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    ws: ClientConnection | None = None
    sent: int = 0
    received: int = 0
    connects: int = 0

    @property
    def rid(self) -> str:
        return recorder_id_for(bytes(self.key.verify_key))

    async def dial(self, http: httpx.AsyncClient, relay: Relay) -> ClientConnection:
        reply = await http.post(
            f"{relay.rest}/v1/recorders/challenge", json={"recorder_id": self.rid}
        )
        reply.raise_for_status()
        nonce = reply.json()["nonce"]
        sig = self.key.sign(connect_message(self.rid, nonce)).signature
        query = {"role": "recorder", "rid": self.rid, "pk": b64url(bytes(self.key.verify_key))}
        query |= {"nonce": nonce, "sig": b64url(sig), "v": "bench"}
        ws = await connect(f"{relay.ws}/?{urlencode(query)}", ping_interval=None, open_timeout=60)
        self.connects += 1
        return ws

    async def ping(self, ws: ClientConnection) -> None:
        await ws.send('{"t":"ping"}')
        self.sent += 1
        reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
        self.received += 1
        if reply != {"t": "pong"}:
            raise RuntimeError(f"unexpected reply {reply}")


async def connect_many(relay: Relay, count: int, parallel: int) -> tuple[list[FakeRecorder], float]:
    recorders = [FakeRecorder() for _ in range(count)]
    gate = asyncio.Semaphore(parallel)
    limits = httpx.Limits(max_connections=parallel)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def one(rec: FakeRecorder) -> None:
            async with gate:
                rec.ws = await rec.dial(http, relay)
                await rec.ping(rec.ws)

        started = time.monotonic()
        await asyncio.gather(*(one(r) for r in recorders))
    return recorders, time.monotonic() - started


async def reconnect_after_restart(relay: Relay, count: int) -> dict[str, float]:
    recorders, _ = await connect_many(relay, count, 16)
    relay.stop()
    for rec in recorders:
        assert rec.ws is not None
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(rec.ws.recv(), 30)
    restarted = asyncio.get_running_loop().create_future()
    took: list[float] = []

    async def come_back(rec: FakeRecorder, http: httpx.AsyncClient) -> None:
        attempt = 0
        while True:  # full-jitter backoff, as the tunnel client's (cap 5 s)
            try:
                rec.ws = await rec.dial(http, relay)
                await rec.ping(rec.ws)
                break
            except (TimeoutError, OSError, httpx.HTTPError, ConnectionClosed):
                attempt += 1
                await asyncio.sleep(random.uniform(0, min(5.0, 0.1 * 2**attempt)))
        ready_at = await restarted
        took.append(max(0.0, time.monotonic() - ready_at))
        await rec.ws.close()

    async with httpx.AsyncClient(timeout=30) as http:
        tasks = [asyncio.create_task(come_back(r, http)) for r in recorders]
        await asyncio.to_thread(relay.start)
        restarted.set_result(time.monotonic())
        await asyncio.gather(*tasks)
    return {"median": statistics.median(took), "max": max(took), "recorders": len(took)}


async def idle_hours(data: Path, scaled_hours: float) -> dict[str, float]:
    """Heartbeat traffic of one idle recorder on a relay with scaled limits. Rollovers (one
    connect, `hello` and `ok` every `ROLLOVER_S`, the tunnel client's setting) are added from
    that setting rather than waited for."""
    relay = Relay(data, idle_s=600 / SCALE, max_s=7200 / SCALE).start()
    rec = FakeRecorder()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ws = await rec.dial(http, relay)
            started = last_sent = time.monotonic()
            end = started + scaled_hours * 3600 / SCALE
            while True:
                # The heartbeat is timed from the last message sent, as the tunnel client's.
                beat_at = last_sent + HEARTBEAT_S / SCALE
                if beat_at > end:
                    break
                await asyncio.sleep(max(0.0, beat_at - time.monotonic()))
                last_sent = time.monotonic()
                await rec.ping(ws)  # raises if the relay closed the connection as idle
            await ws.close()
    finally:
        relay.stop()
    heartbeat_messages = (rec.sent + rec.received) / scaled_hours
    rollovers = 3600 / ROLLOVER_S
    return {
        "messages_per_hour": heartbeat_messages + 2 * rollovers,
        "inbound_per_hour": rec.sent / scaled_hours + rollovers,
        "connects_per_hour": rollovers,
    }


def idle_cost_per_month(idle: dict[str, float]) -> dict[str, float]:
    hours = MONTH_H
    pings = idle["inbound_per_hour"] * hours  # each inbound message is one Lambda invocation
    connects = idle["connects_per_hour"] * hours
    messages = idle["messages_per_hour"] * hours * PRICE_PER_MESSAGE
    minutes = hours * 60 * PRICE_PER_CONNECTION_MINUTE
    invocations = pings + 2 * connects  # + $connect and $disconnect
    lam = invocations * (PRICE_PER_LAMBDA_REQUEST + LAMBDA_GB * LAMBDA_S * PRICE_PER_LAMBDA_GB_S)
    reads = pings * PING_IO[0] + connects * (CONNECT_IO[0] + DISCONNECT_IO[0] + HELLO_IO[0])
    writes = pings * PING_IO[1] + connects * (CONNECT_IO[1] + DISCONNECT_IO[1] + HELLO_IO[1])
    dynamo = reads * PRICE_PER_READ_UNIT + writes * PRICE_PER_WRITE_UNIT
    parts = {"messages": messages, "connection_minutes": minutes, "lambda": lam, "dynamodb": dynamo}
    return {**{k: round(v, 5) for k, v in parts.items()}, "total": round(sum(parts.values()), 4)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    out: dict[str, Any] = {"smoke": args.smoke, "environment": environment()}
    relay = Relay(root / "many", idle_s=600, max_s=7200).start()
    try:
        warm, _ = await connect_many(relay, 5, 5)  # imports, pools and caches: not per recorder
        for rec in warm:
            assert rec.ws is not None
            await rec.ws.close()
        await asyncio.sleep(1)
        before = relay.rss()
        recorders, took = await connect_many(relay, args.recorders, args.parallel)
        after = relay.rss()
        out["recorders_connected"] = len(recorders)
        out["connect_all_s"] = round(took, 2)
        out["memory_per_recorder_kb"] = round((after - before) / len(recorders) / 1024, 1)
        out["relay_rss_mb"] = round(after / 2**20, 1)
        for rec in recorders:
            assert rec.ws is not None
            await rec.ws.close()
    finally:
        relay.stop()
    relay = Relay(root / "restart", idle_s=600, max_s=7200).start()
    try:
        reconnect = await reconnect_after_restart(relay, args.restart_recorders)
    except Exception:
        print("".join(relay.output[-40:]), file=sys.stderr)
        raise
    finally:
        relay.stop()
    out["reconnect_s"] = round(reconnect["median"], 3)
    out["reconnect_max_s"] = round(reconnect["max"], 3)
    out["reconnect_recorders"] = reconnect["recorders"]
    if not args.no_tunnel:
        from bench.relay_tunnel import tunnel_figures

        # A 60 s cap: the device's one connection outlives the run, the recorder (4 s) rolls.
        relay = Relay(root / "tunnel", idle_s=600, max_s=60).start()
        try:
            assert relay.admin_password
            out |= await tunnel_figures(
                root / "recorder",
                relay.rest,
                relay.ws,
                relay.admin_password,
                args.calls,
                args.rollover_s,
            )
        finally:
            relay.stop()
    idle = await idle_hours(root / "idle", args.idle_hours)
    out["idle_messages_per_recorder_hour"] = round(idle["messages_per_hour"], 2)
    out["idle_connects_per_recorder_hour"] = round(idle["connects_per_hour"], 2)
    cost = idle_cost_per_month(idle)
    out["idle_cost_usd_per_recorder_month"] = cost["total"]
    out["idle_cost_breakdown_usd"] = cost
    out["targets"] = {
        "recorders_connected": ">= 1000",
        "reconnect_s": "<= 2",
        "idle_cost_usd_per_recorder_month": "<= 0.05",
        "overhead_ms": "<= 30",
        "rollover_failed_calls": "0",
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_arguments(parser, "50 recorders, 10 for the restart, half a scaled hour idle")
    parser.add_argument("--recorders", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=32, help="connects in flight")
    parser.add_argument("--restart-recorders", type=int, default=100)
    parser.add_argument("--no-tunnel", action="store_true", help="skip the RTT and rollover")
    parser.add_argument("--calls", type=int, default=50, help="calls per RTT median")
    parser.add_argument("--rollover-s", type=float, default=15.0, help="calls across rollovers")
    parser.add_argument("--idle-hours", type=float, default=2.0, help="scaled hours to run idle")
    args = parser.parse_args(argv)
    if args.smoke:
        args.recorders, args.restart_recorders, args.idle_hours = 50, 10, 0.5
        args.calls, args.rollover_s = 15, 10.0
    figures = asyncio.run(run(args))
    emit_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
