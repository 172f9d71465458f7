#!/usr/bin/env python3
"""Load benchmark: REBORNPAY payment/create and a QR Money H2H card payment beside
GET /healthz and the framework's ceiling, on SQLite (synchronous FULL, the default, and
NORMAL) and Postgres.

For each backend it starts a release paybridge on 127.0.0.1 with a benchmark merchant
(no rate limit), then runs ROUNDS rounds of `wrk -t2 -c64` against /healthz, the
ceiling (bench/ceiling: a bare poem server that parses the same create body and answers
a same-size JSON, no database), payment/create (unique invoice ids, valid credentials)
and QR Money's card payment (created and charged in one request), back to back, so each
round's ratios compare them under the same machine conditions. It reports medians of
the rounds, paybridge's peak resident memory, and writes bench/RESULTS.md.

    python3 bench/run.py                      # SQLite, and Postgres if reachable
    python3 bench/run.py --rounds 5 --duration 10
    PAYBRIDGE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test python3 bench/run.py

Only 127.0.0.1 is loaded; every wrk run stops by itself after --duration seconds.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 18080
BASE = f"http://127.0.0.1:{PORT}"
CREATE = f"{BASE}/rebornpay/api/v1/payment/create"
QRMONEY = f"{BASE}/qrmoney/payments/h2h/1001"
BINARY = ROOT / "target/release/paybridge"
CEILING_PORT = 18081
CEILING = f"http://127.0.0.1:{CEILING_PORT}/rebornpay/api/v1/payment/create"
CEILING_BINARY = ROOT / "target/release/paybridge-bench-ceiling"


def parse_wrk(output):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def wrk(url, duration, script=None):
    cmd = ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def wait_ready(url=f"{BASE}/readyz"):
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("paybridge did not become ready")


def peak_rss_mb(pid):
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_backend(name, database_url, rounds, duration, workdir, extra_config=""):
    config = workdir / f"{name}.toml"
    config.write_text(
        f'listen = "127.0.0.1:{PORT}"\n'
        f'database_url = "{database_url}"\n'
        f'public_url = "{BASE}"\n'
        "log_credentials = false\n"
        f"{extra_config}"
        "[[merchants]]\n"
        'name = "Bench Shop"\n'
        "rate_limit_per_minute = 0\n"
        'rebornpay = { api_key = "pk_bench", api_secret = "sk_bench" }\n'
        'qrmoney = { api_key = "qr_bench", account_id = "1001", merchant_id = "bench", settings = { fee_percent = 2.5 } }\n'
    )
    env = dict(os.environ, RUST_LOG="warn")
    server = subprocess.Popen(
        [str(BINARY), "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{name}.log", "w"),
    )
    try:
        wait_ready()
        wrk(f"{BASE}/healthz", 2)  # warm-up
        wrk(CREATE, 2, ROOT / "bench/create.lua")
        wrk(QRMONEY, 2, ROOT / "bench/qrmoney.lua")
        wrk(CEILING, 2, ROOT / "bench/create.lua")
        rows = []
        for i in range(rounds):
            h_rps, h_p99, _ = wrk(f"{BASE}/healthz", duration)
            x_rps, _, x_err = wrk(CEILING, duration, ROOT / "bench/create.lua")
            if x_err:
                raise SystemExit(f"{name}: {x_err} ceiling requests failed")
            c_rps, c_p99, c_err = wrk(CREATE, duration, ROOT / "bench/create.lua")
            if c_err:
                raise SystemExit(f"{name}: {c_err} create requests failed; see {workdir / (name + '.log')}")
            rss = peak_rss_mb(server.pid)
            q_rps, q_p99, q_err = wrk(QRMONEY, duration, ROOT / "bench/qrmoney.lua")
            if q_err:
                raise SystemExit(f"{name}: {q_err} QR Money requests failed; see {workdir / (name + '.log')}")
            rows.append((h_rps, h_p99, c_rps, c_p99, c_rps / h_rps, q_rps, q_p99, q_rps / h_rps, q_rps / c_rps,
                         x_rps, c_rps / x_rps, rss))
            print(f"  {name} round {i + 1}: healthz {h_rps:,.0f} req/s p99 {h_p99:.2f} ms; "
                  f"ceiling {x_rps:,.0f} req/s; "
                  f"create {c_rps:,.0f} req/s p99 {c_p99:.2f} ms; ratio {100 * c_rps / h_rps:.1f}%, "
                  f"{100 * c_rps / x_rps:.1f}% of the ceiling; peak RSS {rss:.0f} MB; "
                  f"qrmoney {q_rps:,.0f} req/s p99 {q_p99:.2f} ms; ratio {100 * q_rps / h_rps:.1f}%, "
                  f"{100 * q_rps / c_rps:.0f}% of create", flush=True)
        return rows
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def postgres_url():
    url = os.environ.get("PAYBRIDGE_BENCH_POSTGRES_URL") or os.environ.get("PAYBRIDGE_TEST_POSTGRES_URL")
    if url:
        return url
    if shutil.which("psql") and subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", "select 1"], capture_output=True
    ).returncode == 0:
        return "postgres://postgres@127.0.0.1:5432/test"
    return None


def fresh_postgres_schema(url):
    schema = f"bench_{int(time.time())}"
    subprocess.run(["psql", url, "-c", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-c%20search_path%3D{schema}", schema


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument("--binary", help="bench this paybridge binary (e.g. an earlier commit's) instead of building")
    parser.add_argument("--ceiling", help="use this paybridge-bench-ceiling binary instead of building it")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    global BINARY, CEILING_BINARY
    if args.binary:
        BINARY = Path(args.binary).resolve()
    else:
        subprocess.run(["cargo", "build", "--release", "--bin", "paybridge"], cwd=ROOT, check=True)
    if args.ceiling:
        CEILING_BINARY = Path(args.ceiling).resolve()
    else:
        subprocess.run(["cargo", "build", "--release", "-p", "paybridge-bench-ceiling"], cwd=ROOT, check=True)

    ceiling = subprocess.Popen([str(CEILING_BINARY), f"127.0.0.1:{CEILING_PORT}"], stdout=subprocess.DEVNULL)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_all(Path(tmp), args, results)
    finally:
        ceiling.send_signal(signal.SIGTERM)
        ceiling.wait(timeout=30)

    lines = summary(results, args)
    print("\n".join(lines))
    if not args.no_write:
        write_results(lines)


def run_all(workdir, args, results):
    wait_ready(f"http://127.0.0.1:{CEILING_PORT}/healthz")
    for sync in ["full", "normal"]:
        print(f"SQLite, synchronous={sync.upper()}:", flush=True)
        results[f"SQLite ({sync.upper()})"] = run_backend(
            f"sqlite-{sync}", f"sqlite://{workdir}/bench-{sync}.db?mode=rwc", args.rounds, args.duration, workdir,
            f'sqlite_synchronous = "{sync}"\n')
    pg = postgres_url()
    if pg:
        url, schema = fresh_postgres_schema(pg)
        print("Postgres:", flush=True)
        try:
            results["Postgres"] = run_backend("postgres", url, args.rounds, args.duration, workdir)
        finally:
            subprocess.run(["psql", pg, "-c", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)
    else:
        print("Postgres: not reachable, skipped")


def summary(results, args):
    cpus = os.cpu_count()
    lines = [
        f"Measured {date.today().isoformat()} on this machine ({cpus} cores, wrk sharing them with the server), "
        f"`wrk -t2 -c64 -d{args.duration}s`, {args.rounds} rounds, medians.",
        "",
        "| backend | /healthz req/s | ceiling req/s | create req/s | create p99 | create ÷ healthz "
        "| create ÷ ceiling | peak RSS | QR Money card req/s | its p99 | QR Money ÷ healthz | QR Money ÷ create |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows)]
        peak = max(row[11] for row in rows)
        lines.append(
            f"| {name} | {med[0]:,.0f} | {med[9]:,.0f} | {med[2]:,.0f} | {med[3]:.2f} ms | **{100 * med[4]:.1f} %** "
            f"| **{100 * med[10]:.1f} %** | {peak:.0f} MB "
            f"| {med[5]:,.0f} | {med[6]:.2f} ms | **{100 * med[7]:.1f} %** | **{100 * med[8]:.0f} %** |"
        )
    lines += ["", "Per round (healthz req/s, ceiling req/s, create req/s, ÷ healthz, ÷ ceiling, create p99, "
              "QR Money req/s, ÷ healthz):", ""]
    for name, rows in results.items():
        lines.append(f"- {name}: " + "; ".join(
            f"{h:,.0f} / {x:,.0f} / {c:,.0f} / {100 * r:.1f}% / {100 * xr:.1f}% / {cp:.1f} ms / {q:,.0f} / {100 * qr:.1f}%"
            for h, _, c, cp, r, q, _, qr, _, x, xr, _ in rows))
    return lines


def write_results(lines, marker="create-vs-healthz"):
    """Replaces the block between `<!-- {marker}:start/end -->` in RESULTS.md."""
    path = ROOT / "bench/RESULTS.md"
    text = path.read_text() if path.exists() else ""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = start + "\n" + "\n".join(lines) + "\n" + end
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
