#!/usr/bin/env python3
"""Webhook benchmark: how fast paybridge delivers notifications, and how soon after the
state change a receiver has them, on SQLite and Postgres.

A receiver on 127.0.0.1:18090 (this script, answering 200 at once on keep-alive
connections) records every delivery. Each round, against a release paybridge on
127.0.0.1:18080 with a benchmark merchant:

1. baseline: `wrk -t2 -c64` against GET /healthz;
2. drain: with delivery off, `wrk` queues test.ping events through REBORNPAY's
   /webhook/test for --fill seconds; paybridge restarts with delivery on and the
   receiver times the whole backlog: deliveries/s = events / (last receipt − first);
3. latency: delivery on, this script queues test.ping events at --rate per second for
   --duration seconds, each carrying the time its request was sent; the receiver
   subtracts it on arrival (state change → receipt), p50 and p99.

It reports medians of the rounds, the drain rate as a ratio to /healthz throughput of
the same round, and writes bench/RESULTS.md.

    python3 bench/webhooks.py                   # SQLite, and Postgres if reachable
    python3 bench/webhooks.py --rounds 3 --rate 500

Only 127.0.0.1 is loaded; every phase stops by itself.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import run as common  # bench/run.py: wrk, readiness, Postgres discovery

ROOT = common.ROOT
BASE = common.BASE
RECEIVER = "127.0.0.1", 18090
PING = f"{BASE}/rebornpay/api/v1/webhook/test"


class Stats:
    """What the receiver saw."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.count = 0
        self.events = set()
        self.first = None
        self.last = None
        self.latencies = []

    def record(self, event, body):
        now = time.time()
        self.count += 1
        self.events.add(event)
        self.first = self.first or now
        self.last = now
        if b'"t":' in body:
            self.latencies.append(now - json.loads(body)["data"]["t"])


STATS = Stats()


class Receiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive receiver: parses just enough to frame requests, answers 200."""

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length, event = 0, None
            for line in self.buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"x-paybridge-event":
                    event = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            STATS.record(event, body)
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")


def start_server(name, database_url, workdir, deliver):
    config = workdir / f"{name}.toml"
    config.write_text(
        f'listen = "127.0.0.1:{common.PORT}"\n'
        f'database_url = "{database_url}"\n'
        f'public_url = "{BASE}"\n'
        "log_credentials = false\n"
        "[webhooks]\n"
        f"enabled = {'true' if deliver else 'false'}\n"
        "block_private_targets = false\n"
        "[[merchants]]\n"
        'name = "Bench Shop"\n'
        "rate_limit_per_minute = 0\n"
        f'webhook_url = "http://{RECEIVER[0]}:{RECEIVER[1]}/hooks"\n'
        'rebornpay = { api_key = "pk_bench", api_secret = "sk_bench" }\n'
    )
    server = subprocess.Popen(
        [str(common.BINARY), "--config", str(config)],
        env=dict(os.environ, RUST_LOG="warn"),
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{name}.log", "a"),
    )
    common.wait_ready()
    return server


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


def fill(seconds):
    """Queues test.ping events with wrk; returns how many."""
    cmd = ["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", str(ROOT / "bench/ping.lua"), PING]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"some /webhook/test requests failed:\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1))


async def wait_for(count, timeout):
    deadline = time.monotonic() + timeout
    while len(STATS.events) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(STATS.events)} of {count} deliveries arrived within {timeout} s")
        await asyncio.sleep(0.05)


async def paced_pings(rate, duration, connections=16):
    """Queues `rate` test.ping events per second for `duration` seconds."""
    total = rate * duration
    start = time.monotonic() + 0.1
    next_slot = 0

    async def worker():
        nonlocal next_slot
        reader, writer = await asyncio.open_connection("127.0.0.1", common.PORT)
        while next_slot < total:
            slot = next_slot
            next_slot += 1
            await asyncio.sleep(max(0.0, start + slot / rate - time.monotonic()))
            body = json.dumps({"event": "test.ping", "data": {"t": time.time()}}).encode()
            writer.write(
                b"POST /rebornpay/api/v1/webhook/test HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nX-Api-Key: pk_bench\r\nX-Api-Secret: sk_bench\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"/webhook/test answered {head[:40]!r}")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return total


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run_backend(name, database_url, args, workdir):
    rows = []
    for i in range(args.rounds):
        server = start_server(name, database_url, workdir, deliver=False)
        try:
            h_rps, _, _ = await asyncio.to_thread(common.wrk, f"{BASE}/healthz", args.baseline)
            queued = await asyncio.to_thread(fill, args.fill)
        finally:
            stop_server(server)
        STATS.reset()
        server = start_server(name, database_url, workdir, deliver=True)
        try:
            await wait_for(queued, timeout=300)
            drained = (queued - 1) / (STATS.last - STATS.first)
            duplicates = STATS.count - len(STATS.events)
            STATS.reset()
            sent = await paced_pings(args.rate, args.duration)
            await wait_for(sent, timeout=60)
            p50, p99 = pct(STATS.latencies, 0.5) * 1000, pct(STATS.latencies, 0.99) * 1000
        finally:
            stop_server(server)
        rows.append((h_rps, queued, drained, drained / h_rps, p50, p99, duplicates))
        print(
            f"  {name} round {i + 1}: healthz {h_rps:,.0f} req/s; drained {queued:,} in "
            f"{drained:,.0f}/s ({100 * drained / h_rps:.2f}% of healthz, {duplicates} repeats); "
            f"at {args.rate}/s p50 {p50:.1f} ms p99 {p99:.1f} ms",
            flush=True,
        )
    return rows


async def main_async(args):
    server = await asyncio.get_running_loop().create_server(Receiver, *RECEIVER)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if args.only in (None, "sqlite"):
                print("SQLite:", flush=True)
                results["SQLite"] = await run_backend("sqlite", f"sqlite://{workdir}/bench.db?mode=rwc", args, workdir)
            pg = common.postgres_url() if args.only in (None, "postgres") else None
            if pg:
                url, schema = common.fresh_postgres_schema(pg)
                print("Postgres:", flush=True)
                try:
                    results["Postgres"] = await run_backend("postgres", url, args, workdir)
                finally:
                    subprocess.run(["psql", pg, "-c", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)
            else:
                print("Postgres: not reachable, skipped")
    finally:
        server.close()
    return results


def summary(results, args):
    lines = [
        f"Measured {date.today().isoformat()} on this machine ({os.cpu_count()} cores, shared by paybridge, "
        f"its database, wrk and this script's receiver), {args.rounds} rounds, medians. Drain: the backlog "
        f"`wrk -t2 -c64 -d{args.fill}s` queued with delivery off; latency: {args.rate} events/s for "
        f"{args.duration} s, from the request that queues the event to its receipt.",
        "",
        "| backend | /healthz req/s | backlog | deliveries/s | deliveries ÷ healthz | latency p50 | latency p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows)]
        lines.append(
            f"| {name} | {med[0]:,.0f} | {med[1]:,.0f} | **{med[2]:,.0f}** | {100 * med[3]:.2f} % | "
            f"**{med[4]:.1f} ms** | {med[5]:.1f} ms |"
        )
    lines += ["", "Per round (deliveries/s, p50, p99, repeats):", ""]
    for name, rows in results.items():
        lines.append(f"- {name}: " + "; ".join(f"{d:,.0f}/s, {p50:.1f} ms, {p99:.1f} ms, {dup}" for _, _, d, _, p50, p99, dup in rows))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=5, help="seconds of /healthz load per round")
    parser.add_argument("--fill", type=int, default=3, help="seconds of queueing with delivery off")
    parser.add_argument("--rate", type=int, default=500, help="events per second in the latency phase")
    parser.add_argument("--duration", type=int, default=10, help="seconds of the latency phase")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one backend")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument("--binary", help="bench this paybridge binary (e.g. an earlier commit's) instead of building")
    args = parser.parse_args()
    if not common.shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if args.binary:
        common.BINARY = Path(args.binary).resolve()
    else:
        subprocess.run(["cargo", "build", "--release", "--bin", "paybridge"], cwd=ROOT, check=True)
    results = asyncio.run(main_async(args))
    lines = summary(results, args)
    print("\n".join(lines))
    if not args.no_write:
        common.write_results(lines, "webhooks")


if __name__ == "__main__":
    sys.exit(main())
