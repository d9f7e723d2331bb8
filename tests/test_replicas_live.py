"""Three real replicas (``python -m appliance serve``) on loopback against one PostgreSQL:
money stays exact across them, work is shared, and a replica killed mid-burst costs nothing.

The replicas are started once for the module (models loaded, so indexing and questions are
real) and the kill -9 test comes last. Each test uses users and API keys of its own; the
rate limit is per API key, so the bursts spread over several keys of one user.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from appliance.billing import licenses
from appliance.db.database import open_session
from appliance.settings import load_settings
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve
from tests.support.live import LiveServer, free_port, spawn, stop, wait_ready
from tests.support.postgres import PG_TOKEN_SECRET

T = TypeVar("T")
INBOX = Path(__file__).parent / "data" / "inbox"
RATE, BURST = 50, 50


@dataclass
class Replicas:
    servers: list[LiveServer]
    admin_key: str
    url: str
    fake: FakeStripe
    vendor: licenses.KeyPairFiles
    install_id: str
    data: Path

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        settings = load_settings(data_dir=self.data / "sql", database_url=self.url)
        with open_session(settings) as db:
            rows = db.read(lambda c: c.execute(statement, args).fetchall())
        return [tuple(r) for r in rows]


def _http(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            try:
                raw = r.read()
            except http.client.IncompleteRead:
                # Killed between the status line and the body: the server had answered (and
                # may have kept the charge), the body never arrived.
                return r.status, None
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def replicas(pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    from appliance.bootstrap import initialize

    root = tmp_path_factory.mktemp("replicas")
    url = pg_cluster.create_database("replicas_live")
    vendor = licenses.keygen(root / "vendor")
    fake = FakeStripe()
    with serve(fake) as stripe_base:
        env = {
            "APPLIANCE_DATABASE_URL": url,
            "APPLIANCE_TOKEN_SECRET": PG_TOKEN_SECRET,
            "APPLIANCE_ECHO_ENDPOINT": "true",
            "APPLIANCE_FREE_MONTHLY_CREDITS": "0",
            "APPLIANCE_RATE_LIMIT_PER_SECOND": str(RATE),
            "APPLIANCE_RATE_LIMIT_BURST": str(BURST),
            # All three start at once on an empty database: one loads the sample.
            "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "true",
            "APPLIANCE_INDEX_ON_START": "false",
            "APPLIANCE_REPLICA_SWEEP_SECONDS": "1",
            "APPLIANCE_JOB_LEASE_SECONDS": "20",
            "APPLIANCE_STRIPE_SECRET_KEY": API_KEY,
            "APPLIANCE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "APPLIANCE_STRIPE_API_BASE": stripe_base,
            "APPLIANCE_LICENSE_PUBLIC_KEYS": json.dumps([vendor.public_entry]),
            "APPLIANCE_CREDIT_PACKS": json.dumps(
                {"credits_200": {"credits": 200, "amount_cents": 1000, "currency": "usd"}}
            ),
        }
        # `appliance init` once (as an operator would), then three replicas.
        first = load_settings(
            data_dir=root / "init", database_url=url, token_secret=PG_TOKEN_SECRET
        )
        result = initialize(first)
        assert result.admin_api_key
        servers: list[LiveServer] = []
        try:
            for name in "abc":  # spawned together, so they start at the same moment
                data_dir = root / name
                # The offline inbox is per replica (a shared volume in a real deployment):
                # whichever replica claims a job must find the files.
                (data_dir / "inbox").mkdir(parents=True)
                shutil.copytree(INBOX / "MRX", data_dir / "inbox" / "MRX")
                port = free_port()
                log_path = root / f"serve-{name}.log"
                proc = spawn(data_dir, port, log_path, **env)
                servers.append(
                    LiveServer(
                        f"http://127.0.0.1:{port}", result.admin_api_key, proc, data_dir, log_path
                    )
                )
            for server in servers:
                wait_ready(server.proc, server.base, server.log_path, timeout=300)
            yield Replicas(
                servers, result.admin_api_key, url, fake, vendor, result.install_id, root
            )
        finally:
            for server in servers:
                stop(server.proc)


def _at_once(n: int, call: Callable[[int], T]) -> list[T]:
    """``call(i)`` for i in range(n), on n threads released together; the answers."""
    answers: list[T] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        got = call(i)
        with lock:
            answers.append(got)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return answers


def _user(r: Replicas, email: str, credits: int, keys: int = 1) -> tuple[int, list[str]]:
    status, user = _http(
        r.servers[0].base, "POST", "/v1/users", {"email": email, "credits": credits},
        _bearer(r.admin_key),
    )  # fmt: skip
    assert status == 201, user
    api_keys = [user["api_key"]]
    for n in range(keys - 1):  # more keys, made on other replicas: all share the user
        base = r.servers[(n + 1) % 3].base
        status, key = _http(base, "POST", "/v1/keys", {"name": f"k{n}"}, _bearer(api_keys[0]))
        assert status == 201, key
        api_keys.append(key["api_key"])
    return int(user["id"]), api_keys


def _burst(
    targets: list[tuple[str, str]],
    threads: int,
    each: int,
    stop: threading.Event | None = None,
    into: list[tuple[int, str]] | None = None,
) -> list[tuple[int, str]]:
    """``threads`` threads, thread i posting /v1/echo to targets[i % len] (base, api key);
    the (status, base) of each answer, appended to ``into`` as they come when given."""
    results: list[tuple[int, str]] = [] if into is None else into
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(i: int) -> None:
        base, key = targets[i % len(targets)]
        barrier.wait()
        for _ in range(each):
            if stop is not None and stop.is_set():
                return
            try:
                status, _ = _http(base, "POST", "/v1/echo", {"text": "x"}, _bearer(key))
            except (OSError, http.client.HTTPException):
                status = 0  # the replica is gone (URLError, resets, timeouts are OSErrors)
            with lock:
                results.append((status, base))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def test_replicas_starting_together_fill_the_database_once(replicas: Replicas) -> None:
    assert replicas.sql("SELECT count(*) FROM symbol_files") == [(1,)]
    assert replicas.sql("SELECT count(*) FROM filings") == [(5,)]  # the Apple sample
    assert len(replicas.sql("SELECT id FROM replicas")) == 3
    for server in replicas.servers:
        status, version = _http(server.base, "GET", "/version")
        assert status == 200 and version["database"] == "postgresql", version
        assert version["postgresql"].startswith("1") and "sqlite" not in version
        assert _http(server.base, "GET", "/readyz")[0] == 200


def test_a_quota_race_across_replicas_is_exact(replicas: Replicas) -> None:
    balance = 300
    uid, keys = _user(replicas, "race@x.io", balance, keys=12)
    targets = [(replicas.servers[i % 3].base, keys[i % len(keys)]) for i in range(36)]
    results = _burst(targets, threads=64, each=6)
    statuses = Counter(s for s, _ in results)
    assert statuses[200] == balance and statuses[402] == 64 * 6 - balance, statuses
    assert {base for s, base in results if s == 200} == {s.base for s in replicas.servers}
    time.sleep(1.0)  # finishes are written after the answers
    rows = replicas.sql(
        "SELECT status, count(*), count(DISTINCT request_id), count(DISTINCT owner)"
        " FROM usage_events WHERE user_id = ? GROUP BY status ORDER BY status",
        uid,
    )
    # One charged event per success (each its own request), made by all three replicas.
    assert rows[0] == ("charged", balance, balance, 3), rows
    assert rows[1][:3] == ("rejected", 64 * 6 - balance, 64 * 6 - balance), rows
    assert replicas.sql("SELECT quota_remaining FROM users WHERE id = ?", uid) == [(0,)]


def test_one_idempotency_key_on_every_replica_charges_once(replicas: Replicas) -> None:
    uid, (key,) = _user(replicas, "idem@x.io", 10)
    headers = {**_bearer(key), "Idempotency-Key": "order-42"}
    status, first = _http(replicas.servers[0].base, "POST", "/v1/echo", {"text": "a"}, headers)
    assert status == 200
    for server in replicas.servers[1:]:  # later, on the other replicas: replayed
        assert _http(server.base, "POST", "/v1/echo", {"text": "a"}, headers) == (200, first)
    # At the same moment on all three, with a new key: one charge, the rest replay or wait.
    statuses = _at_once(9, lambda i: _http(
        replicas.servers[i % 3].base, "POST", "/v1/echo", {"text": "b"},
        {**_bearer(key), "Idempotency-Key": "order-43"},
    )[0])  # fmt: skip
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    charged = replicas.sql(
        "SELECT idempotency_key, count(*) FROM usage_events WHERE user_id = ? AND status ="
        " 'charged' GROUP BY idempotency_key ORDER BY idempotency_key",
        uid,
    )
    assert charged == [("order-42", 1), ("order-43", 1)]
    assert replicas.sql("SELECT quota_remaining FROM users WHERE id = ?", uid) == [(8,)]


def test_a_webhook_delivered_to_two_replicas_at_once_credits_once(replicas: Replicas) -> None:
    uid, (key,) = _user(replicas, "buyer@x.io", 0)
    status, session = _http(
        replicas.servers[2].base, "POST", "/billing/checkout/credits", {"pack": "credits_200"},
        _bearer(key),
    )  # fmt: skip
    assert status == 200, session
    payload, headers = replicas.fake.delivery(replicas.fake.complete(session["session_id"]))
    answers = _at_once(
        6,
        lambda i: _http(replicas.servers[i % 2].base, "POST", "/billing/webhook", payload, headers),
    )
    assert all(status == 200 for status, _ in answers), answers
    assert sorted(body["result"] for _, body in answers) == ["credited"] + ["duplicate"] * 5
    assert replicas.sql("SELECT quota_remaining FROM users WHERE id = ?", uid) == [(200,)]


def test_a_license_redeemed_on_two_replicas_at_once_is_accepted_once(
    replicas: Replicas,
) -> None:
    uid, (key,) = _user(replicas, "lic@x.io", 0)
    lic = licenses.issue(
        licenses.load_private_key(replicas.vendor.private_key),
        credits=700,
        install_id=replicas.install_id,
    )
    statuses = _at_once(6, lambda i: _http(
        replicas.servers[i % 2].base, "POST", "/billing/licenses/redeem", {"license_key": lic},
        _bearer(key),
    )[0])  # fmt: skip
    assert sorted(statuses) == [200] + [409] * 5
    assert replicas.sql("SELECT quota_remaining FROM users WHERE id = ?", uid) == [(700,)]


def test_a_job_runs_once_and_every_replica_answers_from_it(replicas: Replicas) -> None:
    admin = _bearer(replicas.admin_key)
    status, job = _http(replicas.servers[0].base, "POST", "/ops/index?ticker=MRX", None, admin)
    assert status == 202, job
    deadline = time.time() + 240
    while time.time() < deadline:
        status, job = _http(
            replicas.servers[1].base, "GET", f"/ops/jobs/{job['job_id']}", None, admin
        )
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert job["status"] == "done" and job["progress"]["chunks"] > 20, job
    [(attempts, claimed_by)] = replicas.sql(
        "SELECT attempts, claimed_by FROM index_jobs WHERE id = ?", job["job_id"]
    )
    assert attempts == 1 and claimed_by, "claimed exactly once"
    question = {"query": "How many full-time employees did Medicis have?"}
    _, (asker,) = _user(replicas, "asker@x.io", 100)
    for server in replicas.servers:  # two of them never indexed it themselves
        deadline = time.time() + 15
        while True:
            status, answer = _http(server.base, "POST", "/v1/qa/filings", question, _bearer(asker))
            assert status == 200, answer
            cited = [c["accession"] for c in answer["citations"]]
            if "0000950153-99-001234" in cited[:1] or time.time() > deadline:
                break
            time.sleep(0.5)
        assert cited[:1] == ["0000950153-99-001234"], (server.base, answer)
        assert "144 full-time" in answer["answer"]


def test_the_rate_limit_holds_across_replicas(replicas: Replicas) -> None:
    _, (key,) = _user(replicas, "limited@x.io", 100_000)
    targets = [(s.base, key) for s in replicas.servers]
    stop = threading.Event()
    results: list[tuple[int, str]] = []

    def watch() -> None:  # at least 2 s, and until the limit has been hit (at most 10 s)
        while time.monotonic() - started < 10:
            time.sleep(0.2)
            if time.monotonic() - started >= 2 and any(s == 429 for s, _ in list(results)):
                break
        stop.set()

    started = time.monotonic()
    threading.Thread(target=watch, daemon=True).start()
    _burst(targets, threads=12, each=100_000, stop=stop, into=results)
    elapsed = time.monotonic() - started
    statuses = Counter(s for s, _ in results)
    assert set(statuses) == {200, 429}, statuses
    # One bucket for the key across the replicas, within a second of slack (three buckets,
    # one per replica, would admit up to three times this).
    assert statuses[200] <= BURST + RATE * (elapsed + 1), (statuses, elapsed)


def test_kill_9_during_a_burst_loses_no_credit_and_charges_nothing_twice(
    replicas: Replicas,
) -> None:
    start = 5_000
    uid, keys = _user(replicas, "crash@x.io", start, keys=12)
    victim = replicas.servers[2]
    targets = [(replicas.servers[i % 3].base, keys[i % len(keys)]) for i in range(36)]
    stop = threading.Event()
    outcome: list[list[tuple[int, str]]] = []
    burst = threading.Thread(target=lambda: outcome.append(_burst(targets, 48, 40, stop)))
    burst.start()
    time.sleep(1.5)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=30)
    burst.join(timeout=300)
    results = outcome[0]
    answered = Counter(base for status, base in results if status == 200)
    assert answered[victim.base] > 0, "the victim was killed during the burst"
    # 429 is refused before anything is spent: how many depends on how fast the replicas
    # answer (1,920 calls on 12 keys of 50/s), and the accounting below holds either way.
    assert all(s in (200, 0, 429) for s, _ in results), Counter(s for s, _ in results)
    # The survivors' sweep (every second) refunds what the dead replica left unfinished.
    deadline = time.time() + 30
    while time.time() < deadline:
        unfinished = replicas.sql(
            "SELECT count(*) FROM usage_events WHERE user_id = ? AND status = 'charged'"
            " AND status_code IS NULL",
            uid,
        )
        if unfinished == [(0,)]:
            break
        time.sleep(0.5)
    assert unfinished == [(0,)]
    [(charged, cost, requests, distinct)] = replicas.sql(
        "SELECT count(*), CAST(coalesce(sum(cost), 0) AS BIGINT), count(*), count(DISTINCT"
        " request_id) FROM usage_events WHERE user_id = ? AND status = 'charged'",
        uid,
    )
    [(balance,)] = replicas.sql("SELECT quota_remaining FROM users WHERE id = ?", uid)
    assert balance == start - cost  # every credit gone is a charge kept, nothing lost
    assert distinct == requests  # no request charged twice
    ok = sum(answered.values())
    # Kept charges were all answered; what the victim answered but had not recorded as
    # finished was refunded (free, never double).
    assert charged <= ok
    assert ok - charged <= answered[victim.base]
    # The survivors still serve.
    status, _ = _http(replicas.servers[0].base, "POST", "/v1/echo", {"text": "x"}, _bearer(keys[0]))
    assert status == 200
