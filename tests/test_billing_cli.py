"""``appliance credits grant|show`` and ``appliance usage export`` against a real data dir."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from appliance.billing import quota
from appliance.cli import main
from appliance.db.connection import connect, transaction
from appliance.db.queries import billing as bq
from tests.helpers import init_dir, run_cli

REQUIRED = {
    "id",
    "user_id",
    "email",
    "endpoint",
    "request_id",
    "cost",
    "quota_before",
    "quota_after",
    "status_code",
    "duration_ms",
    "created_at",
}


def _created(capsys: pytest.CaptureFixture[str], d: str, email: str) -> int:
    code, out = run_cli(capsys, "users", "create", email, "--json", "--data-dir", d)
    assert code == 0
    return int(json.loads(out)["id"])


def test_credits_grant_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    _created(capsys, d, "g@x.io")
    code, out = run_cli(
        capsys, "credits", "grant", "g@x.io", "25", "--ref", "po-1", "--json", "--data-dir", d
    )
    entry = json.loads(out)
    assert code == 0 and (entry["source"], entry["source_ref"]) == ("admin", "po-1")
    assert (entry["delta"], entry["balance_after"]) == (25, 25)
    # The same reference grants once; the repeat says so, shows the first grant, and exits 1.
    code, out = run_cli(
        capsys, "credits", "grant", "g@x.io", "25", "--ref", "po-1", "--json", "--data-dir", d
    )
    again = json.loads(out)
    assert code == 1 and again["granted"] is False and again["id"] == entry["id"]
    code, out = run_cli(
        capsys, "credits", "grant", "g@x.io", "25", "--ref", "po-1", "--data-dir", d
    )
    assert code == 1 and out == ""
    code, out = run_cli(capsys, "credits", "grant", "g@x.io", "5", "--data-dir", d)
    assert "purchased balance 30" in out
    code, out = run_cli(capsys, "credits", "show", "g@x.io", "--json", "--data-dir", d)
    shown = json.loads(out)
    assert (shown["purchased"], shown["allowance_remaining"], shown["remaining"]) == (30, 10, 40)
    # Taking back more than the balance needs --allow-negative.
    assert main(["credits", "grant", "g@x.io", "-31", "--data-dir", d]) == 2
    assert "purchased balance is 30" in capsys.readouterr().err
    code, out = run_cli(
        capsys, "credits", "grant", "g@x.io", "-31", "--allow-negative", "--data-dir", d
    )
    assert code == 0 and "purchased balance -1" in out
    code, out = run_cli(capsys, "credits", "show", "g@x.io", "--json", "--data-dir", d)
    assert json.loads(out)["remaining"] == 0
    assert main(["credits", "grant", "nobody@x.io", "5", "--data-dir", d]) == 3


def test_usage_export_csv_and_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    a = _created(capsys, d, "a@x.io")
    b = _created(capsys, d, "b@x.io")
    conn = connect(tmp_path / "d" / "appliance.sqlite3")
    with transaction(conn):
        for uid, n in [(a, 3), (b, 2)]:
            for i in range(n):
                quota.spend(conn, uid, "qa", 1, f"r{uid}-{i}", None, "2025-06")
        conn.execute(
            "UPDATE usage_events SET created_at = '2025-06-01T10:00:00.000Z' WHERE id <= 2"
        )
    code, out = run_cli(capsys, "usage", "export", "--format", "csv", "--data-dir", d)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5 and set(rows[0]) >= REQUIRED
    assert [r["email"] for r in rows] == ["a@x.io"] * 3 + ["b@x.io"] * 2
    assert [r["quota_before"] for r in rows[:3]] == ["10", "9", "8"]
    code, out = run_cli(
        capsys, "usage", "export", "--format", "jsonl", "--user", "b@x.io", "--data-dir", d
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["request_id"] for e in lines] == [f"r{b}-0", f"r{b}-1"]
    assert all(set(e) >= REQUIRED and e["user_id"] == b for e in lines)
    code, out = run_cli(
        capsys, "usage", "export", "--format", "jsonl", "--since", "2025-06-02", "--data-dir", d
    )
    assert len(out.splitlines()) == 3
    target = tmp_path / "u.csv"
    code, _ = run_cli(capsys, "usage", "export", "-o", str(target), "--data-dir", d)
    assert len(target.read_text().splitlines()) == 6
    assert main(["usage", "export", "--since", "June", "--data-dir", d]) == 2
    assert main(["credits", "grant", "a@x.io", "0", "--data-dir", d]) == 2
    assert len(list(bq.iter_usage(conn))) == 5
