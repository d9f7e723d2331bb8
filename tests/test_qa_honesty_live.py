"""The filings Q&A against the real server (``python -m appliance serve`` on loopback): it says
"answered", "no_answer" or "not_indexed", charges only answers (exactly once, also under
concurrent questions and Idempotency-Key replays), and shows the live index state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance import accounts
from appliance.cli.common import write
from tests.helpers import wait_until
from tests.support.live import LiveServer, fire, live_server
from tests.support.rag import make_settings

ASK = "/v1/qa/filings"
INBOX = Path(__file__).parent / "data" / "inbox"
QUIET = {
    "APPLIANCE_RATE_LIMIT_PER_SECOND": "0",
    "APPLIANCE_INDEX_ON_START": "false",
    "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "false",
}


def _admin(data_dir: Path) -> str:
    created = write(
        make_settings(data_dir), accounts.create_user, "ops@example.com", None, is_admin=True
    )
    return created.api_key


def _without_pending(data_dir: Path) -> None:
    """Drop the sections the template left unindexed: a corpus with nothing waiting, so a
    server indexing new imports indexes only those (seconds, not minutes)."""
    from appliance.db.connection import connect

    conn = connect(data_dir / "appliance.sqlite3")
    conn.execute("DELETE FROM sections WHERE id NOT IN (SELECT section_id FROM indexed_sections)")
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, rag_template: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("honest") / "data"
    shutil.copytree(rag_template, data_dir)
    key = _admin(data_dir)
    with live_server(data_dir, admin_key=key, APPLIANCE_INDEX_NEW_IMPORTS="false", **QUIET) as srv:
        yield srv


def _user(srv: LiveServer, email: str, credits: int) -> str:
    status, body, _ = srv.request(
        "POST", "/v1/users", {"email": email, "credits": credits}, key=srv.admin_key
    )
    assert status == 201, body
    key: str = body["api_key"]
    return key


def _remaining(srv: LiveServer, key: str) -> int:
    status, body, _ = srv.request("GET", "/v1/quota", key=key)
    assert status == 200
    value: int = body["remaining"]
    return value


def _events(srv: LiveServer, key: str) -> list[dict[str, Any]]:
    status, body, _ = srv.request("GET", "/v1/usage?limit=1000", key=key)
    assert status == 200
    events: list[dict[str, Any]] = body["events"]
    return events


def _ask(srv: LiveServer, key: str, body: dict[str, Any], **headers: str) -> Any:
    """(status, body, response headers with lower-case names)."""
    status, reply, got = srv.request("POST", ASK, body, key=key, headers=headers)
    return status, reply, {k.lower(): v for k, v in got.items()}


def test_the_answer_quotes_the_sentence_that_answers_in_other_words(server: LiveServer) -> None:
    # By shared words alone ("people", "work") the answer opened with another sentence of
    # the cited passages (checked with SEMANTIC_WEIGHT = 0); scored by meaning too, with the
    # headcount.
    key = _user(server, "workforce@example.com", 5)
    status, body, _ = _ask(server, key, {"query": "How many people work at Apple?"})
    assert status == 200 and body["status"] == "answered", body
    first = body["answer"].split(" [")[0]
    assert "full-time equivalent employees" in first, body["answer"]


def test_statuses_and_what_they_cost(server: LiveServer) -> None:
    key = _user(server, "asker@example.com", 20)
    start = _remaining(server, key)  # 10 monthly + 20 purchased

    # Answered: Apple's own filing, charged once.
    status, body, headers = _ask(server, key, {"query": "How many employees does Apple have?"})
    assert status == 200 and body["status"] == "answered", body
    assert body["companies"] == [
        {"ticker": "AAPL", "cik": 320193, "company": "Apple Inc.", "indexed": True}
    ]
    assert "166,000" in body["answer"] and body["citations"][0]["ticker"] == "AAPL"
    assert body["message"] is None and 0.2 <= body["confidence"] <= 1
    assert headers["x-credits-remaining"] == str(start - 1)

    # A named company without indexed filings: not_indexed, never Apple's citations, free.
    status, body, headers = _ask(server, key, {"query": "How many employees does Microsoft have?"})
    assert status == 200 and body["status"] == "not_indexed", body
    assert body["citations"] == [] and body["answer"] is None
    assert body["companies"] == [
        {"ticker": "MSFT", "cik": 789019, "company": "MICROSOFT CORP", "indexed": False}
    ]
    assert "appliance filings import" in body["message"]
    assert "/ops/index?ticker=MSFT" in body["message"]
    assert headers["x-credits-remaining"] == str(start - 1)

    # ... and so does a ticker field naming a company without indexed filings.
    status, body, _ = _ask(server, key, {"query": "How many employees?", "ticker": "msft"})
    assert status == 200 and body["status"] == "not_indexed" and body["citations"] == []
    status, body, _ = _ask(
        server, key, {"query": "What was MSFT total revenue in fiscal 2025?", "ticker": "AAPL"}
    )
    assert body["status"] in ("answered", "no_answer")  # the ticker field scopes it to Apple
    assert all(c["ticker"] == "AAPL" for c in body["citations"])
    charged_so_far = 1 + (body["status"] == "answered")
    no_answers = body["status"] == "no_answer"

    # Nonsense and off-topic: no_answer, no citations, free.
    for query in ("purple monkey dishwasher banana", "What is the capital of France?"):
        status, body, headers = _ask(server, key, {"query": query})
        assert status == 200 and body["status"] == "no_answer", (query, body)
        assert body["citations"] == [] and body["answer"] is None and body["message"]
        assert body["companies"] == []
        assert headers["x-credits-remaining"] == str(start - charged_so_far)

    # A cutoff before every filing: nothing to cite, free.
    status, body, _ = _ask(
        server, key, {"query": "How many employees does Apple have?", "cutoff": "2001-01-01"}
    )
    assert body["status"] == "no_answer" and "2001-01-01" in body["message"]

    # Errors keep their shape and cost nothing.
    status, body, _ = _ask(server, key, {"query": "revenue", "ticker": "ZZZZZ"})
    assert status == 404 and body["error"]["code"] == "unknown_ticker"
    status, body, _ = _ask(server, key, {"query": "x", "confidence": 2})
    assert status == 400 and body["error"]["code"] == "invalid_payload"

    assert _remaining(server, key) == start - charged_so_far
    events = _events(server, key)
    statuses = [e["status"] for e in events]
    assert statuses.count("charged") == charged_so_far
    assert statuses.count("not_indexed") == 2 and statuses.count("no_answer") == 3 + no_answers
    assert all(e["cost"] == 0 for e in events if e["status"] in ("no_answer", "not_indexed"))
    assert statuses.count("refunded") == 1  # the 404


def test_concurrent_questions_charge_answers_exactly_once(server: LiveServer) -> None:
    key = _user(server, "crowd@example.com", 40)
    start = _remaining(server, key)
    questions = [
        "How many employees does Apple have?",  # answered
        "purple monkey dishwasher banana",  # no_answer
        "How many employees does Microsoft have?",  # not_indexed
    ]
    results: list[tuple[int, str, str | None]] = []
    for q in questions:  # each question from 6 threads at once, 2 each
        results += fire(server.base, ASK, {"query": q}, {"Authorization": f"Bearer {key}"}, 2, 6)
    assert all(code == 200 for code, _, _ in results), results
    outcomes = [json.loads(body)["status"] for _, body, _ in results]
    assert outcomes.count("answered") == 12
    assert outcomes.count("no_answer") == outcomes.count("not_indexed") == 12
    assert _remaining(server, key) == start - 12
    events = _events(server, key)
    assert sum(e["status"] == "charged" for e in events) == 12
    assert sum(e["cost"] for e in events if e["status"] == "charged") == 12


def test_idempotent_replays_charge_an_answer_once(server: LiveServer) -> None:
    key = _user(server, "retry@example.com", 5)
    start = _remaining(server, key)
    for query, cost in (("How many employees does Apple have?", 1), ("blorp fizzwhack", 0)):
        headers = {"Idempotency-Key": f"k-{cost}"}
        replies = [_ask(server, key, {"query": query}, **headers) for _ in range(3)]
        assert [r[0] for r in replies] == [200, 200, 200]
        assert replies[1][1] == replies[0][1] == replies[2][1]
        assert replies[2][2]["idempotent-replayed"] == "true"
        assert {r[2]["x-credits-remaining"] for r in replies} == {str(start - 1)}
    assert _remaining(server, key) == start - 1
    assert sorted(e["status"] for e in _events(server, key)) == ["charged", "no_answer"]


def test_readyz_and_metrics_show_the_live_state(server: LiveServer) -> None:
    status, body, _ = server.request("GET", "/readyz")
    assert status == 200
    detail = body["components"]["retrieval"]["detail"]
    # The template indexed a few Items of each filing; then comes the reranking stage.
    chunks, pending = detail.split(";")[0].split(", ")[:2]
    assert chunks.endswith(" chunks indexed") and int(chunks.split()[0]) > 100
    assert pending.endswith("sections of 5 filings pending")
    import urllib.request

    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'appliance_unbilled_requests_total{endpoint="qa",status="no_answer"}' in text
    assert 'appliance_unbilled_requests_total{endpoint="qa",status="not_indexed"}' in text


def test_ops_index_that_finds_nothing_fails_saying_what_to_do(server: LiveServer) -> None:
    status, job, _ = server.request("POST", "/ops/index?ticker=AMZN", key=server.admin_key)
    assert status == 202, job

    def finished() -> Any:
        _, now, _ = server.request("GET", f"/ops/jobs/{job['job_id']}", key=server.admin_key)
        return now if now["status"] not in ("queued", "running") else None

    job = wait_until(finished, timeout=60, interval=0.2, message="the job never finished")
    assert job["status"] == "failed", job
    assert "nothing to index for AMZN" in job["error"]
    assert "appliance filings import" in job["error"] and "edgar_user_agent" in job["error"]
    assert "inbox" in job["error"]


def test_filings_imported_while_serving_are_indexed_without_a_command(
    tmp_path: Path, rag_template: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(rag_template, data_dir)
    _without_pending(data_dir)
    key = _admin(data_dir)
    with live_server(data_dir, admin_key=key, **QUIET) as srv:
        question = {"query": "How many full-time employees did Medicis have?"}
        # Medicis (delisted) is in no ticker map: unknown until its filings are imported, and
        # "Medicis" is a word no indexed passage holds, so Apple's headcount is no answer.
        status, body, _ = _ask(srv, key, question)
        assert status == 200 and body["status"] == "no_answer" and body["citations"] == [], body
        imported = subprocess.run(
            [sys.executable, "-m", "appliance", "filings", "import", str(INBOX / "MRX")],
            env={"APPLIANCE_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert imported.returncode == 0, imported.stderr
        assert "the running server (pid" in imported.stderr
        assert "indexes the new filings in the background" in imported.stderr
        seen: set[str] = set()

        def answered() -> Any:
            status, body, headers = _ask(srv, key, question)
            if status == 503:
                assert body["error"]["code"] == "index_building", body
                assert int(headers["retry-after"]) >= 1
                seen.add("index_building")
                return None
            seen.add(body["status"])
            return body if body["status"] == "answered" else None

        body = wait_until(answered, timeout=240, interval=0.5, message=lambda: str(seen))
        assert body["citations"][0]["accession"] == "0000950153-99-001234"
        assert "144 full-time" in body["answer"]
        _, ready, _ = srv.request("GET", "/readyz")
        assert "pending" not in ready["components"]["retrieval"]["detail"]
