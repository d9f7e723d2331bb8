"""Real servers on loopback killed with SIGKILL and SIGTERM at random points of bursts of
billable calls, of webhook deliveries and of indexing jobs; after each kill a restart and
`appliance db check`, and at the end the invariants: no credit lost or spent twice (what the
clients saw answered reconciles with the usage events by request id), every job finishes,
no duplicate chunks."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from appliance.db.connection import connect_readonly
from tests.faults.support import Figures, db_check, kill, reconcile, start
from tests.helpers import wait_until
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve
from tests.support.live import LiveServer, init_data_dir

SEED = int(os.environ.get("FAULT_SEED", "20261130"))
QUIET = {
    "APPLIANCE_LOAD_MODELS": "false",
    "APPLIANCE_ECHO_ENDPOINT": "true",
    "APPLIANCE_RATE_LIMIT_PER_SECOND": "0",
    "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "false",
    "APPLIANCE_INDEX_ON_START": "false",
    "APPLIANCE_SHUTDOWN_GRACE_SECONDS": "1",
}
INBOX = Path(__file__).resolve().parents[1] / "data" / "inbox"


class Burst:
    """Client threads sending billable calls until told to stop or the server dies. Every
    third call carries an Idempotency-Key; one cut off by the kill is retried after the
    restart with the same key and request id (a retry may be charged again only if the
    first attempt was refunded)."""

    def __init__(self, key: str, figures: Figures, rng: random.Random) -> None:
        self.key = key
        self.figures = figures
        self.rng = rng
        self.lock = threading.Lock()
        self.cut_off: list[tuple[str, bool]] = []  # (request id, keyed) of calls cut off
        self.unexpected: list[str] = []

    def call(self, conn: http.client.HTTPConnection, request_id: str, keyed: bool) -> int:
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "application/json",
            "X-Request-ID": request_id,
        }
        if keyed:
            headers["Idempotency-Key"] = request_id
        # The same body for a retry (another body with the same key would be a 422).
        delay = (0, 0, 0, 5, 40)[int(request_id[-2:], 16) % 5]
        body = {"text": request_id, "delay_ms": delay}
        conn.request("POST", "/v1/echo", body=json.dumps(body), headers=headers)
        r = conn.getresponse()
        payload = r.read()
        with self.lock:
            self.figures.requests += 1
            if r.status == 200:
                self.figures.successes.add(request_id)
            elif r.status != 503:  # 503 shutting_down: cut off by a SIGTERM, not charged
                self.unexpected.append(f"{r.status} {payload[:200]!r}")
        return r.status

    def worker(self, srv: LiveServer, stop: threading.Event, index: int) -> None:
        port = int(srv.base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        try:
            while not stop.is_set():
                n += 1
                request_id = f"w{index}-{uuid.uuid4().hex[:12]}"
                keyed = n % 3 == 0
                try:
                    self.call(conn, request_id, keyed)
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.figures.requests += 1
                        self.cut_off.append((request_id, keyed))
                    return  # the server is gone
        finally:
            conn.close()

    def run(self, srv: LiveServer, threads: int, until: threading.Event) -> list[threading.Thread]:
        pool = [
            threading.Thread(target=self.worker, args=(srv, until, i), daemon=True)
            for i in range(threads)
        ]
        for t in pool:
            t.start()
        return pool

    def retry_cut_off(self, srv: LiveServer) -> None:
        port = int(srv.base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            pending, self.cut_off = self.cut_off, []
            for request_id, keyed in pending:
                if keyed:
                    self.call(conn, request_id, keyed=True)
        finally:
            conn.close()


def _user(srv: LiveServer, email: str, credits: int) -> dict[str, Any]:
    status, user, _ = srv.request(
        "POST", "/v1/users", {"email": email, "credits": credits}, key=srv.admin_key
    )
    assert status == 201, user
    return user


def test_kills_during_bursts_of_billable_calls(tmp_path: Path, fault_figures: Figures) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "d"
    admin = init_data_dir(data_dir, **QUIET)["admin_api_key"]
    srv = start(data_dir, admin, fault_figures, tmp_path, **QUIET)
    credits = 100_000
    user = _user(srv, "burst@example.com", credits)
    burst = Burst(user["api_key"], fault_figures, rng)
    try:
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGTERM):
            stop = threading.Event()
            pool = burst.run(srv, threads=4, until=stop)
            threading.Event().wait(rng.uniform(0.3, 1.2))  # a random point of the burst
            kill(srv, sig, fault_figures)
            stop.set()
            for t in pool:
                t.join(timeout=60)
            db_check(data_dir)
            srv = start(data_dir, admin, fault_figures, tmp_path, **QUIET)
            burst.retry_cut_off(srv)
        assert not burst.unexpected, burst.unexpected[:5]
        assert len(fault_figures.successes) > 50, "the bursts barely ran"
        reconcile(srv, user["api_key"], fault_figures)
        _, quota, _ = srv.request("GET", "/v1/quota", key=user["api_key"])
        charged = fault_figures.reconciled
        assert quota["remaining"] == quota["monthly_allowance"] + credits - charged
    finally:
        srv.proc.kill()
        srv.proc.wait()
    db_check(data_dir)


def test_kills_during_webhook_deliveries(tmp_path: Path, fault_figures: Figures) -> None:
    rng = random.Random(SEED + 1)
    data_dir = tmp_path / "d"
    fake = FakeStripe()
    with serve(fake) as stripe_base:
        env = {
            **QUIET,
            "APPLIANCE_STRIPE_SECRET_KEY": API_KEY,
            "APPLIANCE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "APPLIANCE_STRIPE_API_BASE": stripe_base,
        }
        admin = init_data_dir(data_dir, **env)["admin_api_key"]
        srv = start(data_dir, admin, fault_figures, tmp_path, **env)
        user = _user(srv, "buyer@example.com", 0)
        sessions = []
        for _ in range(6):
            status, body, _ = srv.request(
                "POST", "/billing/checkout/credits", {"pack": "credits_200"}, key=user["api_key"]
            )
            assert status == 200, body
            sessions.append(body["session_id"])
        deliveries = [fake.delivery(fake.complete(sid)) for sid in sessions]
        try:
            for sig in (signal.SIGKILL, signal.SIGTERM):
                stop = threading.Event()
                answered: list[int] = []

                def deliver(
                    srv: LiveServer = srv,
                    stop: threading.Event = stop,
                    answered: list[int] = answered,
                ) -> None:
                    port = int(srv.base.rsplit(":", 1)[1])
                    while not stop.is_set():
                        payload, headers = rng.choice(deliveries)
                        # Closed on the way out too: the kill cuts a delivery mid-request, and
                        # an unclosed socket is a ResourceWarning (an error in this suite).
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        try:
                            conn.request("POST", "/billing/webhook", body=payload, headers=headers)
                            answered.append(conn.getresponse().status)
                        except (OSError, http.client.HTTPException):
                            return
                        finally:
                            conn.close()

                pool = [threading.Thread(target=deliver, daemon=True) for _ in range(3)]
                for t in pool:
                    t.start()
                threading.Event().wait(rng.uniform(0.2, 0.8))
                kill(srv, sig, fault_figures)
                stop.set()
                for t in pool:
                    t.join(timeout=60)
                assert set(answered) <= {200}, answered
                db_check(data_dir)
                srv = start(data_dir, admin, fault_figures, tmp_path, **env)
            # Stripe redelivers everything not acknowledged: here, everything once more.
            for payload, headers in deliveries:
                status, result, _ = _post(srv, "/billing/webhook", payload, headers)
                assert status == 200, result
            _, me, _ = srv.request("GET", "/v1/me", key=user["api_key"])
            assert me["purchased"] == 200 * len(sessions)  # each paid session once
        finally:
            srv.proc.kill()
            srv.proc.wait()
    db_check(data_dir)
    conn = connect_readonly(data_dir / "appliance.sqlite3")
    try:
        rows = conn.execute("SELECT count(*) FROM credit_ledger WHERE source = 'stripe'")
        assert rows.fetchone()[0] == len(sessions)
    finally:
        conn.close()


def _post(srv: LiveServer, path: str, payload: bytes, headers: dict[str, str]) -> Any:
    port = int(srv.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=payload, headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read()), dict(r.getheaders())
    finally:
        conn.close()


def test_kills_during_an_indexing_job(tmp_path: Path, fault_figures: Figures) -> None:
    rng = random.Random(SEED + 2)
    data_dir = tmp_path / "d"
    env = {
        **QUIET,
        "APPLIANCE_LOAD_MODELS": "true",
        "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "true",
    }
    admin = init_data_dir(data_dir, **env)["admin_api_key"]
    shutil.copytree(INBOX / "MRX", data_dir / "inbox" / "MRX")
    srv = start(data_dir, admin, fault_figures, tmp_path, **env)
    try:
        status, job, _ = srv.request("POST", "/ops/index?ticker=MRX", key=admin)
        assert status == 202, job

        def progress() -> dict[str, Any]:
            status, body, _ = srv.request("GET", f"/ops/jobs/{job['job_id']}", key=admin)
            assert status == 200
            return dict(body)

        for sig in (signal.SIGKILL, signal.SIGTERM):
            wait_until(
                lambda: progress()["progress"]["chunks"] > 0 or progress()["status"] == "done",
                timeout=240,
                interval=rng.uniform(0.05, 0.3),
                message="the job never stored a chunk",
            )
            kill(srv, sig, fault_figures)
            db_check(data_dir)
            srv = start(data_dir, admin, fault_figures, tmp_path, **env)
        finished = wait_until(
            lambda: (p := progress())["status"] in ("done", "failed") and p,
            timeout=300,
            interval=0.2,
            message="the job never finished",
        )
        assert finished["status"] == "done", finished

        # /readyz counts what is indexed now, not what was at start (the first start's sample
        # may still be indexing beside the job: the line catches up with the table).
        def readyz_is_current() -> bool:
            _, ready, _ = srv.request("GET", "/readyz")
            detail = str(ready["components"]["retrieval"]["detail"])
            chunks = _chunk_count(data_dir)
            return chunks > 0 and detail.startswith(f"{chunks} chunks indexed")

        wait_until(readyz_is_current, timeout=120, interval=0.5, message="/readyz lags the index")
    finally:
        srv.proc.kill()
        srv.proc.wait()
    db_check(data_dir)  # as many vectors as chunks, every chunk in a section marked indexed
    conn = connect_readonly(data_dir / "appliance.sqlite3")
    try:
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT section_id, char_start, char_end FROM chunks"
            " GROUP BY section_id, char_start, char_end HAVING count(*) > 1)"
        ).fetchone()[0]
        live = conn.execute(
            "SELECT count(*) FROM index_jobs WHERE status IN ('queued', 'running')"
        ).fetchone()[0]
    finally:
        conn.close()
    assert dupes == 0 and live == 0


def _chunk_count(data_dir: Path) -> int:
    conn = connect_readonly(data_dir / "appliance.sqlite3")
    try:
        return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    finally:
        conn.close()


def test_kills_during_the_first_start(tmp_path: Path, fault_figures: Figures) -> None:
    rng = random.Random(SEED + 3)
    data_dir = tmp_path / "d"
    env = {**QUIET, "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "true"}
    logs = []
    from tests.support.live import free_port, spawn

    for _ in range(3):
        log_path = tmp_path / f"first-{len(logs)}.log"
        proc = spawn(data_dir, free_port(), log_path, **env)
        fault_figures.runs += 1
        # A random point of the first start's slow part: from the database's appearance
        # (the admin is made then) through the sample import to the printed key.
        wait_until(lambda: (data_dir / "appliance.sqlite3").exists(), timeout=120, interval=0.01)
        threading.Event().wait(rng.uniform(0.0, 1.0))
        proc.send_signal(rng.choice((signal.SIGKILL, signal.SIGTERM)))
        proc.wait(timeout=60)
        fault_figures.kills += 1
        logs.append(log_path)
    srv = start(data_dir, "", fault_figures, tmp_path, **env)
    try:
        printed = [
            line.strip()
            for log in [*logs, srv.log_path]
            for line in log.read_text(errors="replace").splitlines()
            if line.strip().startswith("apk_")
        ]
        assert printed, "no run ever showed the admin key"
        status, me, _ = srv.request("GET", "/v1/me", key=printed[-1])
        assert status == 200 and me["is_admin"]
        status, filings, _ = srv.request("GET", "/v1/filings?ticker=AAPL", key=printed[-1])
        assert status == 200 and len(filings["filings"]) == 5, "the sample is incomplete"
    finally:
        srv.proc.kill()
        srv.proc.wait()
    db_check(data_dir)
