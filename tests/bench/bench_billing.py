"""Billing benchmark: spends/s in-process and billable requests/s over HTTP, in one run.

1. In-process, synchronous=FULL: spends/s through ``Billing.spend`` (the app's single writer,
   group commit) at 1, 16 and 64 concurrent callers (asyncio tasks), each run checked for
   exactness (the balance is set below the number of attempts: exactly that many succeed, the
   balance ends at 0, each charged event has a distinct quota_before). Baselines in the same
   run: the disk's rate of single-row commits (each one fsync: what any durable design without
   group commit is bounded by) and the naive design, a BEGIN IMMEDIATE transaction per spend
   from a connection per caller (16 threads).
2. Over HTTP (wrk, uvicorn + uvloop + httptools, one server process): a trivial endpoint
   (GET /healthz), and the cheap billable POST /v1/echo with billing off and on; requests/s
   and p99, and the ratio on/off. Skipped, with a message, when `wrk` is not installed.

Run: `make bench`, or `.venv/bin/python tests/bench/bench_billing.py [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance import accounts
from appliance.billing import quota
from appliance.billing.service import Billing
from appliance.bootstrap import initialize
from appliance.db.connection import Connection, connect, transaction
from appliance.db.database import Database
from appliance.metrics import Metrics
from appliance.settings import load_settings
from tests.support.live import live_server

PERIOD = "2025-06"


def _fresh_db(root: Path, name: str, balance: int) -> tuple[Path, int]:
    settings = load_settings(data_dir=root / name, load_models=False, db_synchronous="FULL")
    initialize(settings)
    conn = connect(settings.db_path)
    with transaction(conn):
        user = accounts.create_user(conn, "bench@x.io", None, credits=balance).user
        conn.execute("UPDATE users SET quota_monthly = 0 WHERE id = ?", (user.id,))
    conn.close()
    return settings.db_path, user.id


def _check_exact(path: Path, user_id: int, balance: int, successes: int, attempts: int) -> None:
    conn = connect(path)
    purchased = conn.execute(
        "SELECT quota_remaining FROM users WHERE id = ?", (user_id,)
    ).fetchone()[0]
    befores = [
        r[0]
        for r in conn.execute(
            "SELECT quota_before FROM usage_events WHERE status = 'charged' AND user_id = ?",
            (user_id,),
        )
    ]
    rejected = conn.execute(
        "SELECT count(*) FROM usage_events WHERE status = 'rejected' AND user_id = ?", (user_id,)
    ).fetchone()[0]
    conn.close()
    assert successes == balance, f"{successes} spends succeeded with a balance of {balance}"
    assert purchased == 0, f"balance ended at {purchased}"
    assert sorted(befores) == list(range(1, balance + 1)), "quota_before not one per credit"
    assert rejected == attempts - balance


def writer_spends(root: Path, callers: int, attempts: int) -> float:
    """Spends/s through ``Billing.spend`` (the app's writer, group commit) from ``callers``
    concurrent asyncio tasks, as the server drives it; exactness checked."""
    attempts -= attempts % callers
    balance = attempts * 9 // 10
    name = f"w{callers}-{time.monotonic_ns()}"
    path, uid = _fresh_db(root, name, balance)
    settings = load_settings(data_dir=root / name, free_monthly_credits=0, db_synchronous="FULL")
    db = Database(path, synchronous="FULL")
    db.start()
    billing = Billing(db, settings, Metrics())

    async def caller(n: int) -> int:
        ok = 0
        for _ in range(n):
            ok += isinstance(await billing.spend(uid, "bench", 1), quota.Spent)
        return ok

    async def run() -> tuple[float, int]:
        started = time.perf_counter()
        done = await asyncio.gather(*[caller(attempts // callers) for _ in range(callers)])
        return time.perf_counter() - started, sum(done)

    seconds, ok = asyncio.run(run())
    db.close()
    _check_exact(path, uid, balance, ok, attempts)
    return attempts / seconds


def naive_spends(root: Path, callers: int, seconds: float) -> tuple[float, float]:
    """Baseline: BEGIN IMMEDIATE per spend on a connection per caller; returns spends/s and
    the longest single spend (lock waits included), time-boxed."""
    path, uid = _fresh_db(root, f"n{callers}-{time.monotonic_ns()}", 10**9)
    local = threading.local()
    deadline = [0.0]
    worst = [0.0]
    count = [0]
    lock = threading.Lock()

    def conn() -> Connection:
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = connect(path, synchronous="FULL", busy_timeout_ms=30_000)
        return c

    def caller() -> None:
        c = conn()
        n, slowest = 0, 0.0
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            with transaction(c):
                quota.spend(c, uid, "bench", 1, "", None, PERIOD)
            slowest = max(slowest, time.perf_counter() - t0)
            n += 1
        with lock:
            count[0] += n
            worst[0] = max(worst[0], slowest)
        c.close()

    barrier = threading.Barrier(callers + 1)
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    return count[0] / (time.perf_counter() - started), worst[0]


def single_commits(root: Path, seconds: float) -> float:
    """Commits/s of one-row transactions, one after another: the disk's fsync rate."""
    conn = connect(root / f"fsync-{time.monotonic_ns()}.db", synchronous="FULL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (?)", (n,))
        n += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


# ----- HTTP -----

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert m, out
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    assert non2xx is None, f"errors during the run:\n{out}"
    return rps, float(m.group(1)) * _UNIT[m.group(2)]


def _post_script(root: Path, key: str) -> Path:
    script = root / f"post-{time.monotonic_ns()}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = \'{"text":"The quarter beat guidance."}\'\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    return script


def http_runs(root: Path, seconds: int, repeats: int, connections: int) -> dict[str, Any]:
    results: dict[str, list[tuple[float, float]]] = {}
    for billing in ("off", "on"):
        env = {
            "APPLIANCE_LOAD_MODELS": "false",
            "APPLIANCE_ECHO_ENDPOINT": "true",
            "APPLIANCE_BILLING_ENABLED": "true" if billing == "on" else "false",
            # The limiter stays in the path but never refuses during the run.
            "APPLIANCE_RATE_LIMIT_PER_SECOND": "1000000",
            "APPLIANCE_RATE_LIMIT_BURST": "1000000",
            "APPLIANCE_DB_SYNCHRONOUS": "FULL",
        }
        with live_server(root / f"http-{billing}", **env) as srv:
            status, user, _ = srv.request(
                "POST", "/v1/users", {"email": "h@x.io", "credits": 10**9}, key=srv.admin_key
            )
            assert status == 201
            script = _post_script(root, user["api_key"])
            _wrk(srv.base + "/v1/echo", 1, connections, script)  # warm-up
            for _ in range(repeats):
                if billing == "off":
                    results.setdefault("trivial GET /healthz", []).append(
                        _wrk(srv.base + "/healthz", seconds, connections, None)
                    )
                results.setdefault(f"POST /v1/echo billing {billing}", []).append(
                    _wrk(srv.base + "/v1/echo", seconds, connections, script)
                )
            if billing == "on":
                status, q, _ = srv.request("GET", "/v1/quota", key=user["api_key"])
                spent = 10**9 + 10 - q["remaining"]
                assert spent > 0
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    args = parser.parse_args()
    # Spends per run by number of callers: one caller waits for every fsync on its own, so
    # its run is kept short enough for a slow disk.
    attempts = {1: 2_000, 16: 16_000, 64: 32_000}
    if args.quick:
        attempts = {n: a // 10 for n, a in attempts.items()}
    repeats = 1 if args.quick else 3
    print(f"machine: {os.cpu_count()} cores; SQLite synchronous=FULL; medians of {repeats} runs")
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        root = Path(tmp)
        print("\n== in-process spends/s (exactness checked) ==")
        disk = single_commits(root, 1.0 if args.quick else 3.0)
        print(f"disk: single-row commits, one at a time:            {disk:>8,.0f}/s")
        base_rate, worst = naive_spends(root, 16, 1.0 if args.quick else 3.0)
        print(
            f"baseline: transaction per spend, connection per caller, 16 callers:"
            f" {base_rate:>8,.0f}/s  (slowest spend {worst * 1000:,.0f} ms)"
        )
        for callers in (1, 16, 64):
            rates = [writer_spends(root, callers, attempts[callers]) for _ in range(repeats)]
            rate = statistics.median(rates)
            print(
                f"writer (group commit), {callers:>2} callers: {rate:>8,.0f}/s"
                f"  x{rate / base_rate:.1f} baseline"
            )
        print("\n== HTTP: uvicorn (uvloop + httptools), 1 process; wrk -t1 -c64 ==")
        if shutil.which("wrk") is None:
            print("SKIPPED: `wrk` is not installed (Debian/Ubuntu: apt-get install -y wrk)")
            return 0
        runs = http_runs(root, 2 if args.quick else 5, repeats, 64)
        medians = {
            name: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v))
            for name, v in runs.items()
        }
        for name, (rps, p99) in medians.items():
            print(f"{name:<28} {rps:>9,.0f} req/s   p99 {p99:6.2f} ms")
        on = medians["POST /v1/echo billing on"][0]
        off = medians["POST /v1/echo billing off"][0]
        trivial = medians["trivial GET /healthz"][0]
        print(
            f"billing on / off: {on / off:.2f} (billing costs {100 * (1 - on / off):.0f}% of"
            f" the endpoint's throughput); on / trivial: {on / trivial:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
