"""``appliance jobs list|show|cancel`` against the indexer's real queue and a real indexer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance import accounts
from appliance.app import create_app
from appliance.cli import main
from appliance.cli.common import write
from appliance.db.connection import connect, transaction
from appliance.db.queries import jobs as jq
from tests.helpers import auth, init_dir
from tests.support.rag import make_settings


def _queue(data_dir: Path, *tickers: str) -> list[int]:
    conn = connect(data_dir / "appliance.sqlite3")
    try:
        with transaction(conn):
            return [jq.enqueue(conn, t, None, None)[0].id for t in tickers]
    finally:
        conn.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_show_and_cancel_queued_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    msft, nvda = _queue(Path(d), "MSFT", "NVDA")
    code, out, _ = _run(capsys, "jobs", "list", "--json", "--data-dir", d)
    listed = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(j["job_id"], j["status"]) for j in listed] == [
        (nvda, "queued"),
        (msft, "queued"),
    ]
    code, out, _ = _run(capsys, "jobs", "cancel", str(msft), "--json", "--data-dir", d)
    cancelled = json.loads(out)
    assert code == 0 and cancelled["status"] == "failed" and cancelled["error"] == jq.CANCELLED
    code, _, err = _run(capsys, "jobs", "cancel", str(msft), "--data-dir", d)
    assert code == 1 and "already finished" in err
    code, out, _ = _run(capsys, "jobs", "list", "--status", "queued", "--data-dir", d)
    assert code == 0 and "NVDA" in out and "MSFT" not in out
    code, out, _ = _run(capsys, "jobs", "show", str(msft), "--data-dir", d)
    assert code == 0 and "cancelled by the operator" in out
    assert _run(capsys, "jobs", "show", "404", "--data-dir", d)[0] == 3


def test_cancel_of_a_job_left_running_by_a_crash_ends_it_at_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    (job,) = _queue(Path(d), "AAPL")
    conn = connect(Path(d) / "appliance.sqlite3")
    conn.execute("UPDATE index_jobs SET status = 'running' WHERE id = ?", (job,))
    conn.close()
    code, out, _ = _run(capsys, "jobs", "cancel", str(job), "--data-dir", d)
    assert code == 0 and "stops it after its current batch" in out
    settings = make_settings(Path(d), load_models=False)
    with TestClient(create_app(settings)):
        pass  # start-up re-queues interrupted jobs, except cancelled ones
    code, out, _ = _run(capsys, "jobs", "show", str(job), "--json", "--data-dir", d)
    shown = json.loads(out)
    assert (shown["status"], shown["error"]) == ("failed", jq.CANCELLED)


def _counts(db: Path) -> tuple[int, int, int]:
    conn = connect(db)
    try:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("chunks", "chunk_vectors", "indexed_sections")
        )
    finally:
        conn.close()


def test_cancel_stops_a_running_indexer_after_its_batch(
    rag_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(rag_data)
    key = write(
        settings, accounts.create_user, "jobs@example.com", None, is_admin=True, credits=10
    ).api_key
    with TestClient(create_app(settings)) as c:
        deadline = time.time() + 120
        while c.get("/readyz").status_code != 200 and time.time() < deadline:
            time.sleep(0.05)
        job = c.post("/ops/index?ticker=AAPL", headers=auth(key)).json()["job_id"]
        while time.time() < deadline:
            state = c.get(f"/ops/jobs/{job}", headers=auth(key)).json()
            if state["status"] == "running" and state["progress"]["done"] > 0:
                break
            time.sleep(0.05)
        assert state["status"] == "running", state
        code, out, _ = _run(capsys, "jobs", "cancel", str(job), "--data-dir", str(rag_data))
        assert code == 0 and "stops it after its current batch" in out
        while time.time() < deadline:
            state = c.get(f"/ops/jobs/{job}", headers=auth(key)).json()
            if state["status"] != "running":
                break
            time.sleep(0.05)
    assert (state["status"], state["error"]) == ("failed", jq.CANCELLED), state
    assert state["progress"]["done"] < state["progress"]["total"]
    chunks, vectors, marked = _counts(settings.db_path)
    assert chunks == vectors and marked > 0  # what was indexed stays, whole
