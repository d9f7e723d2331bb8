"""Replicas benchmark: spends/s and billable requests/s on SQLite, and on PostgreSQL with 1 and
3 replicas, in one run, on this machine.

1. In-process spends/s through ``Billing.spend`` (exactness checked after each run: every
   success is one charged event and one credit gone). SQLite: the app's single writer (group
   commit, synchronous=FULL). PostgreSQL (durable: fsync and synchronous_commit on, as a real
   server): one replica is one process; three replicas are three processes spending at once.
   The callers spend on 16 users (a spend locks its user's row on PostgreSQL; one user would
   measure that one row's lock, not the engine).
2. Billable requests/s over HTTP: POST /v1/echo with billing on, wrk with 64 connections in
   total. SQLite: one server. PostgreSQL: one replica; three replicas each taking a third of the
   connections (one wrk per replica, all at once; their requests/s added up).

PostgreSQL runs in a throwaway cluster (tests/support/postgres.py); without PostgreSQL or wrk
the parts that need them are skipped with a message. On a 2-core machine the three replicas,
PostgreSQL and the load generator share the same two cores: the 3-replica figures show the
cost of coordination there, not the scaling a replica per machine would give.

Run: `make bench`, or `.venv/bin/python tests/bench/bench_replicas.py [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_billing import _post_script, _wrk

from appliance import accounts
from appliance.billing import quota
from appliance.billing.service import Billing
from appliance.bootstrap import initialize
from appliance.db.connection import Connection
from appliance.db.database import open_database, open_session
from appliance.db.queries import scalar
from appliance.metrics import Metrics
from appliance.settings import Settings, load_settings
from tests.support.live import live_server
from tests.support.postgres import PG_TOKEN_SECRET, Unavailable, cluster

USERS = 16
CALLERS = 64


def _settings(data_dir: Path, url: str | None) -> Settings:
    extra: dict[str, Any] = {"database_url": url, "token_secret": PG_TOKEN_SECRET} if url else {}
    return load_settings(
        data_dir=data_dir, load_models=False, db_synchronous="FULL", free_monthly_credits=0,
        **extra,
    )  # fmt: skip


def _users(settings: Settings, balance: int) -> list[int]:
    initialize(settings)
    with open_session(settings) as db:
        ids = [
            db.write(accounts.create_user, f"bench{n}@x.io", None, credits=balance).user.id
            for n in range(USERS)
        ]
        db.write(lambda c: c.execute("UPDATE users SET quota_monthly = 0"))
    return ids


def _spend_loop(settings: Settings, users: list[int], attempts: int) -> tuple[int, float]:
    """``attempts`` spends from CALLERS asyncio tasks on this process's Database; returns
    (successes, seconds)."""
    db = open_database(settings)
    db.start()
    billing = Billing(db, settings, Metrics())

    async def caller(n: int) -> int:
        uid = users[n % len(users)]
        ok = 0
        for _ in range(attempts // CALLERS):
            ok += isinstance(await billing.spend(uid, "bench", 1), quota.Spent)
        return ok

    async def run() -> tuple[int, float]:
        started = time.perf_counter()
        done = await asyncio.gather(*(caller(n) for n in range(CALLERS)))
        return sum(done), time.perf_counter() - started

    try:
        return asyncio.run(run())
    finally:
        db.close()


def _replica_process(data_dir: str, url: str | None, users: list[int], attempts: int) -> Any:
    """One replica of several: a process of its own (settings are rebuilt here)."""
    return _spend_loop(_settings(Path(data_dir), url), users, attempts)


def _left_and_charged(conn: Connection) -> tuple[int, int]:
    left = scalar(conn, "SELECT CAST(sum(quota_remaining) AS BIGINT) FROM users")
    charged = scalar(conn, "SELECT count(*) FROM usage_events WHERE status = 'charged'")
    return int(left), int(charged)


def _check_exact(settings: Settings, balance: int, successes: int) -> None:
    """Every success is one charged event and one credit gone."""
    with open_session(settings) as db:
        left, charged = db.read(_left_and_charged)
    assert charged == successes == USERS * balance - left, (charged, successes, left)


def spends(root: Path, url: str | None, replicas: int, attempts: int) -> float:
    """Spends/s of ``replicas`` processes (1 = this one) spending ``attempts`` each."""
    balance = attempts * replicas  # every spend succeeds: the rate of charges
    settings = _settings(root / f"spend-{time.monotonic_ns()}", url)
    users = _users(settings, balance // USERS + 1)
    if replicas == 1:
        ok, seconds = _spend_loop(settings, users, attempts)
        total = attempts - attempts % CALLERS
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(replicas) as pool:
            results = pool.starmap(
                _replica_process, [(str(settings.data_dir), url, users, attempts)] * replicas
            )
        ok = sum(r[0] for r in results)
        seconds = max(r[1] for r in results)  # the spending itself, not the processes' start
        total = replicas * (attempts - attempts % CALLERS)
    _check_exact(settings, balance // USERS + 1, ok)
    assert ok == total, (ok, total)
    return ok / seconds


@contextlib.contextmanager
def _servers(root: Path, url: str | None, count: int) -> Iterator[list[Any]]:
    env = {
        "APPLIANCE_LOAD_MODELS": "false",
        "APPLIANCE_ECHO_ENDPOINT": "true",
        "APPLIANCE_RATE_LIMIT_PER_SECOND": "1000000",
        "APPLIANCE_RATE_LIMIT_BURST": "1000000",
        "APPLIANCE_DB_SYNCHRONOUS": "FULL",
        "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "false",
    }
    if url:
        env.update(APPLIANCE_DATABASE_URL=url, APPLIANCE_TOKEN_SECRET=PG_TOKEN_SECRET)
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(live_server(root / "r0", **env))
        others = [
            stack.enter_context(live_server(root / f"r{n}", admin_key=first.admin_key, **env))
            for n in range(1, count)
        ]
        yield [first, *others]


def http(root: Path, url: str | None, replicas: int, seconds: int) -> float:
    """Billable requests/s (billing on) with 64 connections spread over the replicas."""
    with _servers(root, url, replicas) as servers:
        scripts = []
        for n, srv in enumerate(servers):
            status, user, _ = srv.request(
                "POST", "/v1/users", {"email": f"h{n}@x.io", "credits": 10**9}, key=srv.admin_key
            )
            assert status == 201, user
            scripts.append(_post_script(root, user["api_key"]))
        each = CALLERS // replicas
        for srv, script in zip(servers, scripts, strict=True):  # warm-up
            _wrk(srv.base + "/v1/echo", 1, each, script)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(replicas) as pool:
            urls = [s.base + "/v1/echo" for s in servers]
            runs = pool.starmap(
                _wrk, [(u, seconds, each, sc) for u, sc in zip(urls, scripts, strict=True)]
            )
        return sum(rps for rps, _ in runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    args = parser.parse_args()
    attempts = 2_000 if args.quick else 8_000
    repeats = 1 if args.quick else 3
    seconds = 2 if args.quick else 5
    print(f"machine: {os.cpu_count()} cores; medians of {repeats} runs; {CALLERS} callers")
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        root = Path(tmp)
        try:
            pg = cluster(durable=True)
            server = pg.__enter__()
        except Unavailable as exc:
            print(f"SKIPPED: PostgreSQL not available ({exc}); `make postgres` installs it")
            return 0
        try:
            rows: list[tuple[str, float, float | None]] = []
            engines: list[tuple[str, str | None, int]] = [
                ("SQLite, 1 server", None, 1),
                ("PostgreSQL, 1 replica", "pg1", 1),
                ("PostgreSQL, 3 replicas", "pg3", 3),
            ]
            has_wrk = shutil.which("wrk") is not None
            for label, db_name, replicas in engines:
                rates, rps = [], []
                for n in range(repeats):
                    url = server.create_database(f"{db_name}_{n}_s", None) if db_name else None
                    rates.append(spends(root / f"{label[:2]}{n}", url, replicas, attempts))
                    if has_wrk:
                        url = server.create_database(f"{db_name}_{n}_h", None) if db_name else None
                        rps.append(
                            http(root / f"h{label[:2]}{replicas}{n}", url, replicas, seconds)
                        )
                rows.append(
                    (label, statistics.median(rates), statistics.median(rps) if rps else None)
                )
            base_spends, base_rps = rows[0][1], rows[0][2]
            heads = ("spends/s", "vs SQLite", "billable req/s", "vs SQLite")
            print(f"\n{'':24s} {heads[0]:>10s} {heads[1]:>10s} {heads[2]:>16s} {heads[3]:>10s}")
            for label, rate, rps in rows:
                http_cells = (
                    f"{rps:>16,.0f} {rps / base_rps:>9.2f}x"
                    if rps is not None and base_rps
                    else f"{'(no wrk)':>16s} {'':>10s}"
                )
                print(f"{label:24s} {rate:>10,.0f} {rate / base_spends:>9.2f}x {http_cells}")
            if not has_wrk:
                print(
                    "HTTP SKIPPED: `wrk` is not installed (Debian/Ubuntu: apt-get install -y wrk)"
                )
        finally:
            pg.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
