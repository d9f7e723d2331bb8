"""Exactness under concurrency against the real server (``python -m appliance serve``):
many more concurrent billable requests than credits, from threads and separate processes."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from appliance.db.connection import connect
from tests.support.live import LiveServer, fire, live_server

LIVE_ENV = {
    "APPLIANCE_LOAD_MODELS": "false",
    "APPLIANCE_ECHO_ENDPOINT": "true",
    "APPLIANCE_RATE_LIMIT_PER_SECOND": "0",
    "APPLIANCE_FREE_MONTHLY_CREDITS": "5",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live") / "data", **LIVE_ENV) as srv:
        yield srv


def _user(srv: LiveServer, email: str, credits: int) -> dict[str, Any]:
    status, body, _ = srv.request(
        "POST", "/v1/users", {"email": email, "credits": credits}, key=srv.admin_key
    )
    assert status == 201, body
    user: dict[str, Any] = body
    return user


def _hammer(
    srv: LiveServer, headers: dict[str, str], threads: int, per_thread: int, processes: int
) -> list[tuple[int, str, str | None]]:
    """Threads here and in ``processes`` spawned processes, all at once."""
    args = (srv.base, "/v1/echo", {"text": "concurrent"}, headers, per_thread)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=ctx) as procs:
        remote = [procs.submit(fire, *args, threads) for _ in range(processes)]
        local = fire(*args, threads)
        return local + [r for f in remote for r in f.result(timeout=300)]


def _all_events(srv: LiveServer, key: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = "/v1/usage?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = srv.request("GET", path, key=key)
        assert status == 200
        events += body["events"]
        cursor = body["next_cursor"]
        if cursor is None:
            return events


def test_exactly_the_balance_succeeds(server: LiveServer) -> None:
    balance = 50  # 5 monthly allowance + 45 purchased
    user = _user(server, "race@x.io", 45)
    key = user["api_key"]
    results = _hammer(server, {"Authorization": f"Bearer {key}"}, 8, 25, processes=3)
    assert len(results) == 8 * 25 * 4
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {200: balance, 402: len(results) - balance}
    assert all(
        json.loads(body)["error"]["code"] == "quota_exhausted"
        for status, body, _ in results
        if status == 402
    )
    # Each success saw a distinct remaining balance: 49, 48, ..., 0.
    remaining = sorted(int(h) for status, _, h in results if status == 200 and h is not None)
    assert remaining == list(range(balance))
    status, quota, _ = server.request("GET", "/v1/quota", key=key)
    assert status == 200
    assert (quota["remaining"], quota["allowance_remaining"], quota["purchased"]) == (0, 0, 0)

    events = _all_events(server, key)
    charged = [e for e in events if e["status"] == "charged"]
    rejected = [e for e in events if e["status"] == "rejected"]
    assert len(charged) == balance and len(rejected) == len(results) - balance
    assert sorted(e["quota_before"] for e in charged) == list(range(1, balance + 1))
    assert all(e["cost"] == 1 and e["quota_after"] == e["quota_before"] - 1 for e in charged)
    assert all(e["status_code"] == 200 and e["duration_ms"] is not None for e in charged)
    assert sum(e["from_allowance"] for e in charged) == 5
    assert all(e["quota_before"] == e["quota_after"] == 0 for e in rejected)
    # Never below zero, straight from the file.
    conn = connect(server.data_dir / "appliance.sqlite3", readonly=True)
    row = conn.execute(
        "SELECT quota_remaining, allowance_remaining FROM users WHERE id = ?", (user["id"],)
    ).fetchone()
    conn.close()
    assert tuple(row) == (0, 0)


def test_concurrent_retries_with_one_key_are_charged_once(server: LiveServer) -> None:
    user = _user(server, "retry@x.io", 10)
    key = user["api_key"]
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "payment-7f3a"}
    results = _hammer(server, headers, 8, 4, processes=2)
    assert len(results) == 8 * 4 * 3
    assert {status for status, _, _ in results} == {200}
    assert len({body for _, body, _ in results}) == 1
    assert {h for _, _, h in results} == {"14"}
    status, quota, _ = server.request("GET", "/v1/quota", key=key)
    assert quota["remaining"] == 14
    events = _all_events(server, key)
    assert [(e["status"], e["idempotency_key"]) for e in events] == [("charged", "payment-7f3a")]
    # A different body under the same key is refused, and costs nothing.
    status, body, _ = server.request(
        "POST", "/v1/echo", {"text": "other"}, key=key, headers={"Idempotency-Key": "payment-7f3a"}
    )
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    assert server.request("GET", "/v1/quota", key=key)[1]["remaining"] == 14


def test_metrics_count_spends_and_refusals(server: LiveServer) -> None:
    user = _user(server, "metrics@x.io", 0)
    for _ in range(6):
        server.request("POST", "/v1/echo", {"text": "m"}, key=user["api_key"])
    with urllib.request.urlopen(server.base + "/metrics") as r:
        text = r.read().decode()
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("appliance_") and 'endpoint="echo"' in line
    }
    assert values['appliance_credits_spent_total{endpoint="echo"}'] >= 5 + 50 + 1
    assert values['appliance_quota_exhausted_total{endpoint="echo"}'] >= 1
    assert 'appliance_http_requests_total{method="POST",route="/v1/echo",status="402"}' in text
