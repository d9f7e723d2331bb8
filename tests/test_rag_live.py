"""`appliance serve` on a fresh data dir, as `make run` starts it: the bundled sample is
imported and indexed in the background, and a newcomer's first question gets citations."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import wait_until
from tests.support.live import live_server


def test_first_start_answers_the_first_question_offline(tmp_path: Path) -> None:
    with live_server(tmp_path / "d") as srv:

        def indexed() -> dict[str, int] | None:  # job progress is free; questions are billed
            status, jobs, _ = srv.request("GET", "/ops/jobs", key=srv.admin_key)
            assert status == 200
            if jobs["jobs"] and jobs["jobs"][-1]["progress"]["chunks"] >= 64:
                progress: dict[str, int] = jobs["jobs"][-1]["progress"]
                return progress
            return None

        wait_until(indexed, timeout=240, interval=0.5, message="the sample was never indexed")
        status, body, headers = srv.request(
            "POST",
            "/v1/qa/filings",
            {"query": "How many employees does Apple have?"},
            key=srv.admin_key,
        )
        assert status == 200, body
        top = body["citations"][0]
        assert top["ticker"] == "AAPL" and top["form"] == "10-K"
        assert "166,000" in body["answer"]
        assert "x-credits-remaining" in {k.lower() for k in headers}
