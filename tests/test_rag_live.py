"""`appliance serve` on a fresh data dir, as `make run` starts it: the bundled sample is
imported and indexed in the background, and a newcomer's first question gets citations."""

from __future__ import annotations

import time
from pathlib import Path

from tests.live import live_server


def test_first_start_answers_the_first_question_offline(tmp_path: Path) -> None:
    with live_server(tmp_path / "d") as srv:
        question = {"query": "How many employees does Apple have?"}
        deadline = time.time() + 240
        body = None
        while time.time() < deadline:
            status, body, _ = srv.request("POST", "/v1/qa/filings", question, key=srv.admin_key)
            assert status == 200, body
            if body["citations"]:
                break
            time.sleep(0.5)
        assert body and body["citations"], "the sample was never indexed"
        top = body["citations"][0]
        assert top["ticker"] == "AAPL" and top["form"] == "10-K"
        assert "166,000" in body["answer"]
        status, jobs, _ = srv.request("GET", "/ops/jobs", key=srv.admin_key)
        assert status == 200 and jobs["jobs"][0]["status"] in ("running", "done")
