"""``appliance db copy --to postgresql://...``: a real SQLite install (the indexed Apple sample,
users, spends, a ledger) moved into a real PostgreSQL, verified, and searched there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance import accounts
from appliance.billing import quota
from appliance.billing.ledger import add_credits
from appliance.cli import main
from appliance.db import copy as db_copy
from appliance.db.connection import connect, transaction
from appliance.db.database import open_session
from appliance.db.queries import billing as bq
from appliance.db.queries.billing import Charge
from appliance.financials.service import FactsQuery, FinancialsQuery, financials, find_facts
from appliance.instance import InstanceLock
from appliance.rag.retrieve import Retriever, SearchRequest
from appliance.settings import load_settings
from tests.helpers import run_cli
from tests.support.postgres import PG_TOKEN_SECRET


def _install(data_dir: Path) -> dict[str, Any]:
    """Users with balances, spends (charged, refunded, rejected) and grants."""
    conn = connect(data_dir / "appliance.sqlite3")
    with transaction(conn):
        a = accounts.create_user(conn, "a@x.io", None, credits=20).user.id
        b = accounts.create_user(conn, "b@x.io", None, credits=1).user.id
        add_credits(conn, a, 5, "admin", "grant-1")
        spent = quota.spend(conn, Charge(a, "qa", 3, "2025-06", "r1"))
        assert isinstance(spent, quota.Spent)
        quota.refund(conn, spent.usage_id, 500, 1.0)
        quota.spend(conn, Charge(a, "qa", 2, "2025-06", "r2"))
        quota.spend(conn, Charge(b, "qa", 50, "2025-06", "r3"))  # rejected
    balances = {
        uid: tuple(
            conn.execute(
                "SELECT quota_remaining, allowance_remaining FROM users WHERE id = ?", (uid,)
            ).fetchone()
        )
        for uid in (a, b)
    }
    conn.close()
    return {"a": a, "b": b, "balances": balances}


def test_copy_moves_everything_and_postgresql_serves_it(
    rag_data: Path, pg_cluster: Any, capsys: pytest.CaptureFixture[str], embedder: Any
) -> None:
    state = _install(rag_data)
    url = pg_cluster.create_database("copy_target")
    code, out = run_cli(capsys, "db", "copy", "--to", url, "--json", "--data-dir", str(rag_data))
    assert code == 0
    report = json.loads(out)
    assert report["tables"]["chunk_vectors"] == report["tables"]["chunks"] > 100
    assert report["tables"]["users"] == 3 and report["tables"]["usage_events"] == 3
    assert "digest of every vector" in report["verified"]
    settings = load_settings(
        data_dir=rag_data.parent / "replica", database_url=url, token_secret=PG_TOKEN_SECRET
    )
    with open_session(settings) as db:
        for uid, (purchased, allowance) in state["balances"].items():
            b = db.read(bq.balances, uid)
            assert b is not None and (b.purchased, b.allowance_remaining) == (purchased, allowance)
        # Identities continue after the copied ids; the debit trigger is back on.
        new = db.write(accounts.create_user, "c@x.io", None, credits=2).user.id
        assert new == 4
        spent = db.write(quota.spend, Charge(new, "qa", 12, "2025-06", "r"))  # 10 + 2
        assert isinstance(spent, quota.Spent)
        assert db.read(bq.purchased_balance, new) == 0
        # The copied index answers on PostgreSQL as it did on SQLite.
        sqlite = connect(rag_data / "appliance.sqlite3")
        # The sample's XBRL facts (migration 0030) came along and answer the same.
        assert report["tables"]["fact_extractions"] == report["tables"]["filings"]
        for query in (FactsQuery(ticker="AAPL", concept="Assets"), FactsQuery(ticker="AAPL")):
            found = db.read(find_facts, query)
            assert found["facts"] and found == find_facts(sqlite, query)
        income = FinancialsQuery(ticker="AAPL", period="quarterly")
        assert db.read(financials, income) == financials(sqlite, income)
        for question in ("How many employees does Apple have?", "Where is Apple headquartered?"):
            answers = []
            for conn in (sqlite, db.read(lambda c: c)):
                retriever = Retriever(embedder)
                retriever.load(conn)
                hits = retriever.search(conn, SearchRequest(question, ticker="AAPL")).hits
                answers.append([h.citation.accession for h in hits[:1]])
            assert answers[0] == answers[1] and answers[0], question
        sqlite.close()
    # A second copy into the same (no longer empty) database is refused, changing nothing.
    code = main(["db", "copy", "--to", url, "--data-dir", str(rag_data)])
    assert code == 2 and "not empty" in capsys.readouterr().err
    pg_cluster.drop_database("copy_target")


def test_a_failed_check_rolls_the_whole_copy_back(
    tmp_path: Path, pg_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appliance.bootstrap import initialize

    data_dir = tmp_path / "data"
    initialize(load_settings(data_dir=data_dir))
    _install(data_dir)
    url = pg_cluster.create_database("copy_broken")
    real = db_copy._copy_rows

    def lossy(dst: Any, table: str, columns: list[str], rows: Any, skip: Any) -> int:
        copied = real(dst, table, columns, rows, skip)
        if table == "credit_ledger":  # a row lost on the way
            dst.conn.execute("DELETE FROM credit_ledger WHERE source = 'admin'")
        return copied

    monkeypatch.setattr(db_copy, "_copy_rows", lossy)
    with pytest.raises(db_copy.CopyFailed, match="credit_ledger"):
        db_copy.copy_to_postgresql(data_dir / "appliance.sqlite3", url)
    settings = load_settings(data_dir=tmp_path / "r", database_url=url)
    with open_session(settings) as db:
        assert db.read(lambda c: c.execute("SELECT count(*) FROM users").fetchone()[0]) == 0
    pg_cluster.drop_database("copy_broken")


def test_copy_refuses_while_a_server_uses_the_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    lock = InstanceLock(data_dir)
    lock.acquire()
    try:
        code = main(["db", "copy", "--to", "postgresql://u@/x", "--data-dir", str(data_dir)])
    finally:
        lock.release()
    assert code == 2 and "another appliance server" in capsys.readouterr().err
    assert main(["db", "copy", "--to", "mysql://x", "--data-dir", str(data_dir)]) == 2
    assert "PostgreSQL URL" in capsys.readouterr().err
