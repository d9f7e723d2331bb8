"""``appliance filings import`` reporting facts, idempotent re-import, backfill of filings
stored before facts existed, and ``appliance facts`` / ``appliance financials``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.db.connection import connect, transaction
from tests.helpers import init_dir
from tests.support.edgar_data import FILINGS

NVDA_10Q = FILINGS / "NVDA" / "10-Q_2025-08-27_0001045810-25-000209.htm.gz"
MEDICIS = FILINGS / "CIK0000859368" / "10-K_1999-09-28_0000950153-99-001234.html.gz"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _count(data_dir: Path, sql: str, *args: object) -> int:
    conn = connect(data_dir / "appliance.sqlite3", readonly=True)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


def test_import_reports_facts_per_filing_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "data")
    both = (str(NVDA_10Q), str(MEDICIS))
    code, out, _ = run(capsys, "filings", "import", *both, "--json", "--data-dir", d)
    assert code == 0
    files = {f["accession"]: f for f in json.loads(out)["files"]}
    nvda = files["0001045810-25-000209"]
    assert nvda["status"] == "imported" and nvda["facts"] > 800 and nvda["fact_conflicts"] == 0
    assert files["0000950153-99-001234"]["facts"] == 0  # 1999: no XBRL, imported as before
    stored = _count(tmp_path / "data", "SELECT count(*) FROM facts")
    assert stored == nvda["facts"]

    code, out, _ = run(capsys, "filings", "import", str(NVDA_10Q), "--data-dir", d)
    assert code == 0 and "unchanged" in out and "facts:" not in out
    code, out, _ = run(capsys, "filings", "import", str(NVDA_10Q), "--replace", "--data-dir", d)
    assert code == 0 and f"facts:{nvda['facts']}" in out
    assert _count(tmp_path / "data", "SELECT count(*) FROM facts") == stored


def test_a_filing_imported_before_facts_gets_them_on_the_next_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "data"
    init_dir(capsys, d)
    assert run(capsys, "filings", "import", str(NVDA_10Q), "--data-dir", str(d))[0] == 0
    stored = _count(d, "SELECT count(*) FROM facts")
    conn = connect(d / "appliance.sqlite3")
    with transaction(conn):  # as an install upgraded from before migration 0030 looks
        conn.execute("DELETE FROM facts")
        conn.execute("DELETE FROM fact_extractions")
    conn.close()
    code, out, _ = run(capsys, "filings", "import", str(NVDA_10Q), "--data-dir", str(d))
    assert code == 0 and "facts extracted" in out and f"facts:{stored}" in out
    assert _count(d, "SELECT count(*) FROM facts") == stored
    assert _count(d, "SELECT count(*) FROM filings") == 1


def test_facts_and_financials_commands(
    facts_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(facts_data)
    code, out, _ = run(capsys, "facts", "NVDA", "--concept", "Revenues", "--json", "--data-dir", d)
    assert code == 0
    body = json.loads(out)
    assert body["cik"] == 1045810
    assert ("130497000000", "FY", 2025) in [(f["value"], f["fp"], f["fy"]) for f in body["facts"]]

    assets = ("--concept", "Assets", "--fy", "2025")
    code, out, _ = run(capsys, "facts", "AAPL", *assets, "--data-dir", d)
    assert code == 0 and "359,241M" in out and "0000320193-25-000079" in out

    code, out, _ = run(capsys, "financials", "AAPL", "--period", "quarterly", "--data-dir", d)
    assert code == 0
    revenue = next(line for line in out.splitlines() if line.startswith("Revenue"))
    assert "102,466M*" in revenue and "94,036M " in revenue + " "
    assert "* derived" in out

    then = ("--cutoff", "2024-12-31", "--json")
    code, out, _ = run(capsys, "financials", "NVDA", *then, "--data-dir", d)
    eps = next(line for line in json.loads(out)["lines"] if line["line"] == "eps_diluted")
    assert eps["values"][0]["value"] == "1.74"

    code, _, err = run(capsys, "facts", "ZZZZQ", "--data-dir", d)
    assert code == 3 and "unknown ticker" in err
    code, _, err = run(capsys, "financials", "AAPL", "--cutoff", "2025-13-01", "--data-dir", d)
    assert code == 2 and "--cutoff" in err
