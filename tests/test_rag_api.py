"""The Q&A and indexing endpoints through the real app, its lifespan and indexer thread."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.api.qa import QARequest
from appliance.app import create_app
from appliance.db.connection import connect
from appliance.settings import Settings
from tests.helpers import auth, make_user, wait_until
from tests.support.rag import AAPL_10K_2024, make_settings

INBOX = Path(__file__).parent / "data" / "inbox"


@pytest.fixture
def rag_settings(rag_data: Path) -> Settings:
    return make_settings(rag_data)


def admin_key_for(settings: Settings) -> str:
    # The template was initialised without printing its key: make a second admin.
    from appliance import accounts
    from appliance.cli.common import write

    created = write(
        settings, accounts.create_user, "ops@example.com", None, is_admin=True, credits=10_000
    )
    return created.api_key


@pytest.fixture
def admin(rag_settings: Settings) -> str:
    return admin_key_for(rag_settings)


@pytest.fixture
def app_client(rag_settings: Settings, admin: str) -> Iterator[TestClient]:
    with TestClient(create_app(rag_settings)) as c:
        _wait_ready(c)
        yield c


def _wait_ready(c: TestClient, timeout: float = 60) -> None:
    wait_until(
        lambda: c.get("/readyz").status_code == 200,
        timeout=timeout,
        message=lambda: c.get("/readyz").text,
    )


def _wait_job(
    c: TestClient, key: str, job_id: int, statuses: set[str], timeout: float = 180
) -> Any:
    def settled() -> Any:
        job = c.get(f"/ops/jobs/{job_id}", headers=auth(key)).json()
        return job if job["status"] in statuses else None

    return wait_until(
        settled, timeout=timeout, interval=0.1, message=f"job {job_id} never reached {statuses}"
    )


def test_qa_answers_with_citations_point_in_time(app_client: TestClient, admin: str) -> None:
    user = make_user(app_client, admin, "analyst@example.com")
    r = app_client.post(
        "/v1/qa/filings",
        json={"query": "How many employees does Apple have?", "cutoff": "2025-06-01", "top_k": 3},
        headers=auth(user["api_key"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "status",
        "answer",
        "message",
        "citations",
        "companies",
        "confidence",
        "as_of",
        "facts",
    }
    assert body["status"] == "answered" and body["message"] is None
    assert body["as_of"] == "2025-06-01" and 0 < body["confidence"] <= 1
    assert body["companies"] == [
        {"ticker": "AAPL", "cik": 320193, "company": "Apple Inc.", "indexed": True}
    ]
    assert body["facts"] == []  # not a numeric question: nothing from inline XBRL
    assert len(body["citations"]) == 3
    first = body["citations"][0]
    assert set(first) == {
        "ticker",
        "cik",
        "company",
        "form",
        "filing_date",
        "accession",
        "section",
        "section_title",
        "text",
        "url",
        "score",
    }
    assert first["accession"] == AAPL_10K_2024 and "164,000" in body["answer"]
    assert all(c["filing_date"] <= "2025-06-01" for c in body["citations"])
    r = app_client.post(
        "/v1/qa/filings",
        json={"query": "How many employees does Apple have?", "cutoff": "2001-01-01"},
        headers=auth(user["api_key"]),
    )
    assert r.status_code == 200 and r.json()["citations"] == []
    assert r.json()["status"] == "no_answer" and r.json()["answer"] is None
    assert "2001-01-01" in r.json()["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "x", "cutoff": "2024-13-01"},
        {"query": "x", "cutoff": "2024-02-30"},
        {"query": "x", "cutoff": "01/02/2024"},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 21},
        {"query": "x", "forms": ["10-Z"]},
        {"query": "x", "forms": []},
        {"query": "x", "sections": ["1A; DROP"]},
        {"query": "x", "ticker": "A B"},
        {"query": "x", "unexpected": 1},
        {"ticker": "AAPL"},
    ],
)
def test_qa_bad_input_is_400(app_client: TestClient, admin: str, payload: dict[str, Any]) -> None:
    r = app_client.post("/v1/qa/filings", json=payload, headers=auth(admin))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_payload"


def test_qa_is_billed_and_refunded_when_it_fails(app_client: TestClient, admin: str) -> None:
    user = make_user(app_client, admin, "payg@example.com")  # the free monthly allowance
    key = auth(user["api_key"])
    quota = app_client.get("/v1/quota", headers=key).json()["remaining"]
    r = app_client.post("/v1/qa/filings", json={"query": "cybersecurity"}, headers=key)
    assert r.status_code == 200 and r.headers["x-credits-remaining"] == str(quota - 1)
    r = app_client.post("/v1/qa/filings", json={"query": "x", "ticker": "ZZZZZ"}, headers=key)
    assert r.status_code == 404  # unknown ticker: refunded
    r = app_client.post("/v1/qa/filings", json={"query": ""}, headers=key)
    assert r.status_code == 400  # rejected before any spend
    assert app_client.get("/v1/quota", headers=key).json()["remaining"] == quota - 1


def test_qa_needs_auth_and_known_ticker(app_client: TestClient, admin: str) -> None:
    r = app_client.post("/v1/qa/filings", json={"query": "revenue"})
    assert r.status_code == 401
    r = app_client.post(
        "/v1/qa/filings", json={"query": "revenue", "ticker": "ZZZZZ"}, headers=auth(admin)
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticker"
    r = app_client.post(
        "/v1/qa/filings",
        json={"query": "cybersecurity", "ticker": "aapl", "forms": ["10-K"], "sections": ["1c"]},
        headers=auth(admin),
    )
    assert r.status_code == 200
    assert {(c["form"], c["section"]) for c in r.json()["citations"]} == {("10-K", "1C")}


def test_qa_section_codes_are_matched_whatever_their_case(
    app_client: TestClient, admin: str
) -> None:
    for given, stored, query in (
        ("Part1_Item4", "part1_item4", "controls and procedures"),
        ("PART2_ITEM1", "part2_item1", "legal proceedings"),
    ):
        r = app_client.post(
            "/v1/qa/filings",
            json={"query": query, "ticker": "AAPL", "sections": [given]},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        sections = {c["section"] for c in r.json()["citations"]}
        assert sections == {stored}, given
    request = QARequest(query="x", sections=["Document", "1c", "Part2_Item1A"])
    assert request.search_request().sections == ("document", "1C", "part2_item1a")


def test_ops_index_from_inbox_auth_idempotency_and_progress(
    app_client: TestClient, admin: str, rag_settings: Settings
) -> None:
    user = make_user(app_client, admin, "not-admin@example.com")
    r = app_client.post("/ops/index?ticker=MRX", headers=auth(user["api_key"]))
    assert r.status_code == 403
    assert app_client.post("/ops/index?ticker=MRX").status_code == 401
    r = app_client.post("/ops/index?ticker=NOSUCHCO", headers=auth(admin))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticker"
    assert app_client.post("/ops/index", headers=auth(admin)).status_code == 400
    # MRX (Medicis, delisted: not in the current ticker map) has files in the offline inbox.
    shutil.copytree(INBOX / "MRX", rag_settings.data_dir / "inbox" / "MRX")
    first = app_client.post("/ops/index?ticker=mrx", headers=auth(admin))
    assert first.status_code == 202, first.text
    job = first.json()
    assert {"job_id", "status"} <= set(job) and job["status"] in ("queued", "running")
    again = app_client.post("/ops/index?ticker=MRX", headers=auth(admin))
    assert again.status_code == 202 and again.json()["job_id"] == job["job_id"]
    done = _wait_job(app_client, admin, job["job_id"], {"done", "failed"})
    assert done["status"] == "done", done
    assert done["source"] == "inbox" and done["progress"]["chunks"] > 20
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    listed = app_client.get("/ops/jobs", headers=auth(admin)).json()["jobs"]
    assert listed[0]["job_id"] == job["job_id"]
    assert app_client.get("/ops/jobs", headers=auth(user["api_key"])).status_code == 403
    assert app_client.get("/ops/jobs/999999", headers=auth(admin)).status_code == 404
    # Done: a new request makes a new job; and the new filing is searchable right away.
    third = app_client.post("/ops/index?ticker=MRX", headers=auth(admin)).json()
    assert third["job_id"] != job["job_id"]
    # (While it is queued or running, a question about MRX answers 503 index_building.)
    assert _wait_job(app_client, admin, third["job_id"], {"done"})["status"] == "done"
    r = app_client.post(
        "/v1/qa/filings",
        json={"query": "How many full-time employees did Medicis have?"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    top = r.json()["citations"][0]
    assert top["accession"] == "0000950153-99-001234" and "144 full-time" in r.json()["answer"]


def _counts(settings: Settings) -> tuple[int, int, int]:
    conn = connect(settings.db_path)
    try:
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        vectors = conn.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0]
        marked = conn.execute("SELECT coalesce(sum(chunks), 0) FROM indexed_sections").fetchone()[0]
        return chunks, vectors, marked
    finally:
        conn.close()


def _job_row(settings: Settings, job_id: int) -> tuple[str, int]:
    conn = connect(settings.db_path)
    try:
        row = conn.execute("SELECT status, attempts FROM index_jobs WHERE id = ?", (job_id,))
        status, attempts = row.fetchone()
        return str(status), int(attempts)
    finally:
        conn.close()


def test_api_stays_responsive_and_jobs_resume_after_restart(
    rag_settings: Settings, admin: str
) -> None:
    # A long job: index every remaining section of the five Apple filings.
    with TestClient(create_app(rag_settings)) as c:
        _wait_ready(c)
        job = c.post("/ops/index?ticker=AAPL", headers=auth(admin)).json()
        health: list[float] = []
        answers: list[float] = []
        deadline = time.time() + 180
        running: dict[str, Any] = {}
        while time.time() < deadline and (len(health) < 20 or not running["progress"]["done"]):
            t = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            health.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = c.post(
                "/v1/qa/filings", json={"query": "Apple legal proceedings"}, headers=auth(admin)
            )
            assert r.status_code == 200 and r.json()["citations"]
            answers.append(time.perf_counter() - t)
            running = c.get(f"/ops/jobs/{job['job_id']}", headers=auth(admin)).json()
            time.sleep(0.1)  # under the billable rate limit
        assert running["status"] == "running" and running["progress"]["done"] > 0
    # The event loop never waited on the indexer.
    assert statistics.median(health) < 0.05 and max(health) < 1.0
    assert statistics.median(answers) < 1.5
    # A graceful stop put the job back in the queue, with everything stored so far intact.
    assert _job_row(rag_settings, job["job_id"])[0] == "queued"
    chunks, vectors, marked = _counts(rag_settings)
    assert chunks == vectors == marked
    # A crash leaves it "running": the next start re-queues it and it resumes, not restarts.
    conn = connect(rag_settings.db_path)
    conn.execute("UPDATE index_jobs SET status = 'running' WHERE id = ?", (job["job_id"],))
    conn.close()
    with TestClient(create_app(rag_settings)) as c:
        _wait_ready(c)
        # The rest may fit in one batch of the embedder, so wait for the job to finish
        # rather than to catch it mid-way: the smaller total is what shows it resumed.
        wait_until(
            lambda: _job_row(rag_settings, job["job_id"])[0] == "done", timeout=180, interval=0.1
        )
        resumed = c.get(f"/ops/jobs/{job['job_id']}", headers=auth(admin)).json()
        assert resumed["status"] == "done" and resumed["attempts"] == 2
        assert 0 < resumed["progress"]["total"] < running["progress"]["total"]
    after = _counts(rag_settings)
    assert after[0] > chunks and after[0] == after[1] == after[2]


def test_without_models_search_is_keyword_only_and_jobs_wait(rag_data: Path) -> None:
    settings = make_settings(rag_data, load_models=False)
    from appliance import accounts
    from appliance.cli.common import write

    key = write(
        settings, accounts.create_user, "kw@example.com", None, is_admin=True, credits=100
    ).api_key
    with TestClient(create_app(settings)) as c:
        _wait_ready(c)
        assert "keyword search only" in c.get("/readyz").json()["components"]["retrieval"]["detail"]
        r = c.post(
            "/v1/qa/filings",
            json={"query": "full-time equivalent employees", "cutoff": "2025-06-01"},
            headers=auth(key),
        )
        assert r.status_code == 200
        cites = r.json()["citations"]
        assert cites and all(x["filing_date"] <= "2025-06-01" for x in cites)
        job = c.post("/ops/index?ticker=AAPL", headers=auth(key))
        assert job.status_code == 202
        time.sleep(0.5)
        again = c.get(f"/ops/jobs/{job.json()['job_id']}", headers=auth(key)).json()
        assert again["status"] == "queued"


def test_a_job_that_cannot_get_its_filings_fails_with_the_reason(rag_data: Path) -> None:
    from appliance import accounts
    from appliance.cli.common import write
    from tests.support.live import free_port

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = make_settings(
        rag_data,
        edgar_user_agent="Appliance Tests tests@example.com",
        edgar_www_url=dead,
        edgar_data_url=dead,
        edgar_max_retries=0,
        edgar_timeout_seconds=2,
    )
    key = write(
        settings, accounts.create_user, "fail@example.com", None, is_admin=True, credits=10
    ).api_key
    with TestClient(create_app(settings)) as c:
        _wait_ready(c)
        job = c.post("/ops/index?ticker=MSFT", headers=auth(key)).json()
        failed = _wait_job(c, key, job["job_id"], {"done", "failed"}, timeout=60)
        assert failed["status"] == "failed" and failed["error"], failed
        assert failed["finished_at"] and failed["attempts"] == 1
        # A failed job is not live: asking again queues a new one.
        again = c.post("/ops/index?ticker=MSFT", headers=auth(key)).json()
        assert again["job_id"] != job["job_id"]


def test_the_distilled_passage_encoder_reindexes_and_answers(rag_data: Path) -> None:
    # The template was indexed by MiniLM: a start with passage_encoder = "distilled" finds every
    # section written by another encoder, indexes it again with the distilled one, and answers
    # MiniLM-embedded questions from those vectors.
    settings = make_settings(rag_data, passage_encoder="distilled", index_on_start=True)
    conn = connect(settings.db_path, readonly=True)
    sections = conn.execute("SELECT count(*) FROM indexed_sections").fetchone()[0]
    key = admin_key_for(settings)
    with TestClient(create_app(settings)) as c:
        _wait_ready(c)
        assert "minilm-l3-passages@int8" in c.get("/readyz").text

        def rewritten() -> bool:
            # Every section (the rest of the sample too, never indexed before), all by it.
            done, other = conn.execute(
                "SELECT count(*) FILTER (WHERE policy LIKE '%+minilm-l3-passages@%'),"
                " count(*) FILTER (WHERE policy NOT LIKE '%+minilm-l3-passages@%')"
                " FROM indexed_sections"
            ).fetchone()
            return bool(done > sections and other == 0)

        wait_until(rewritten, timeout=180, message="the sections were not re-indexed")
        r = c.post(
            "/v1/qa/filings",
            json={"query": "How many employees does Apple have?", "cutoff": "2025-06-01"},
            headers=auth(key),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "answered" and "164,000" in body["answer"], body
        assert body["citations"][0]["accession"] == AAPL_10K_2024
    conn.close()
