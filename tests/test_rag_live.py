"""`appliance serve` on a fresh data dir, as `make run` starts it: the bundled sample is
imported and indexed in the background. A question asked before its filings are indexed gets
503 index_building (free), never "no filing answers this"; once they are, it is answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import wait_until
from tests.support.live import live_server

QUESTION = {"query": "How many employees does Apple have?"}


def test_first_start_race_then_the_first_question_answered_offline(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    # The indexer held: the sample is imported and its job queued, but nothing is indexed, as
    # at the moment /readyz first turns 200 on a first start.
    with live_server(data_dir, APPLIANCE_INDEX_PAUSED="true") as srv:
        key = srv.admin_key
        status, ready, _ = srv.request("GET", "/readyz")
        detail = ready["components"]["retrieval"]["detail"]
        assert status == 200 and detail.startswith("0 chunks indexed,"), detail
        assert "sections of 5 filings pending" in detail and "job(s) queued" in detail
        before = srv.request("GET", "/v1/quota", key=key)[1]["remaining"]
        status, body, got = srv.request("POST", "/v1/qa/filings", QUESTION, key=key)
        headers = {k.lower(): v for k, v in got.items()}
        assert status == 503 and body["error"]["code"] == "index_building", body
        assert "AAPL (Apple Inc.)" in body["error"]["message"]
        assert body["error"]["details"]["pending_sections"] > 0
        assert 2 <= int(headers["retry-after"]) <= 60
        assert srv.request("GET", "/v1/quota", key=key)[1]["remaining"] == before
        events = srv.request("GET", "/v1/usage", key=key)[1]["events"]
        assert [(e["status"], e["status_code"]) for e in events] == [("refunded", 503)]
    # Let go: the same data dir served again indexes the sample, and /readyz follows it live.
    with live_server(data_dir, admin_key=key) as srv:
        chunks = []

        def done() -> Any:  # job progress and /readyz are free; questions are billed
            _, ready, _ = srv.request("GET", "/readyz")
            chunks.append(int(ready["components"]["retrieval"]["detail"].split()[0]))
            _, jobs, _ = srv.request("GET", "/ops/jobs", key=key)
            return jobs["jobs"][0] if jobs["jobs"] and jobs["jobs"][0]["status"] == "done" else None

        job = wait_until(done, timeout=600, interval=0.5, message="the sample was never indexed")
        assert job["status"] == "done" and job["progress"]["chunks"] > 500, job
        _, ready, _ = srv.request("GET", "/readyz")
        detail = ready["components"]["retrieval"]["detail"]
        index, rerank = detail.split("; ", 1)  # the index, then the reranking stage
        assert index == f"{job['progress']['chunks']} chunks indexed", detail
        assert rerank.startswith("reranking the top 8 with all-mpnet-base-v2@int8"), detail
        assert chunks == sorted(chunks)  # never the start-up count again
        status, body, got = srv.request("POST", "/v1/qa/filings", QUESTION, key=key)
        headers = {k.lower(): v for k, v in got.items()}
        assert status == 200 and body["status"] == "answered", body
        top = body["citations"][0]
        assert top["ticker"] == "AAPL" and top["form"] == "10-K"
        assert "166,000" in body["answer"]
        assert headers["x-credits-remaining"] == str(before - 1)
