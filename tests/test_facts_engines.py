"""The facts queries on both engines (appliance/db/queries/facts.py): storing a filing's facts
again replaces them, lookups ignore case, label words match literally, point in time and
restatements, and deleting a filing takes its facts. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from appliance.db.connection import Connection, transaction
from appliance.db.queries import facts as xq
from appliance.db.queries import filings as fq

CIK = 42
OLD, NEW = "0000000042-24-000001", "0000000042-25-000001"


def _fact(name: str, value: str, label: str, end: str = "2024-09-28") -> xq.FactRow:
    return xq.FactRow(
        f"us-gaap:{name}", name, label, value, True, "USD", "-6", "2023-10-01", end, "",
        2024, "FY", "8", f"{label} {value}",
    )  # fmt: skip


def _extraction(accession: str, facts: int) -> xq.Extraction:
    return xq.Extraction(accession, facts, 0, 0, 0, 2024, "FY", "2024-09-28")


def _filing(conn: Connection, accession: str, filed: str, facts: list[xq.FactRow]) -> None:
    row = fq.FilingRow(
        accession, CIK, "ACME", "Acme Corp", "10-K", filed, None, "2024-09-28", None,
        None, None, "html", accession, 100,
    )  # fmt: skip
    with transaction(conn):
        fq.save_filing(conn, row, [("8", "Financial Statements", 1, "Net sales.", accession)])
        xq.save_facts(conn, accession, CIK, facts, _extraction(accession, len(facts)))


def _values(conn: Connection, **query: object) -> list[tuple[str, str, str]]:
    found = xq.facts_for(conn, CIK, **query)  # type: ignore[arg-type]
    return [(f.name, f.value, f.accession) for f in found]


def test_facts_stored_again_replace_the_filings_facts(engine_conn: Connection) -> None:
    conn = engine_conn
    _filing(conn, OLD, "2024-11-01", [_fact("Revenues", "100", "Net sales")])
    first = xq.extraction(conn, OLD)
    assert first is not None and first.facts == 1 and first.extracted_at
    with transaction(conn):
        rows = [_fact("Revenues", "100", "Net sales"), _fact("CostOfRevenue", "60", "Cost")]
        xq.save_facts(conn, OLD, CIK, rows, _extraction(OLD, 2))
    again = xq.extraction(conn, OLD)
    assert again is not None and again.facts == 2
    assert sorted(_values(conn)) == [("CostOfRevenue", "60", OLD), ("Revenues", "100", OLD)]
    found = xq.facts_for(conn, CIK, names=["Revenues"])
    assert found[0].section_title == "Financial Statements" and found[0].numeric == 1
    assert xq.company_of(conn, "acme") == (CIK, "Acme Corp")


def test_lookups_ignore_case_and_label_words_match_literally(engine_conn: Connection) -> None:
    conn = engine_conn
    _filing(
        conn,
        OLD,
        "2024-11-01",
        [
            _fact("Revenues", "100", "Net Sales"),
            _fact("OperatingIncomeLoss", "30", "Operating income"),
            _fact("GrossProfit", "40", "Gross margin (100%)"),
        ],
    )
    assert _values(conn, names=["revenues"]) == [("Revenues", "100", OLD)]
    assert _values(conn, concepts=["US-GAAP:REVENUES"]) == [("Revenues", "100", OLD)]
    assert _values(conn, words=["net", "SALES"]) == [("Revenues", "100", OLD)]
    assert _values(conn, words=["operatingincome"]) == [("OperatingIncomeLoss", "30", OLD)]
    assert _values(conn, words=["100%"]) == [("GrossProfit", "40", OLD)]
    # % and _ are no wildcards, and a backslash is no broken pattern (PostgreSQL's escape)
    assert _values(conn, words=["n%t"]) == []
    assert _values(conn, words=["n_t"]) == []
    assert _values(conn, words=["sales\\"]) == []


def test_the_newest_filing_before_the_cutoff_gives_the_value(engine_conn: Connection) -> None:
    conn = engine_conn
    _filing(conn, OLD, "2024-11-01", [_fact("EarningsPerShareDiluted", "1.74", "Diluted")])
    restated = [
        _fact("EarningsPerShareDiluted", "0.17", "Diluted"),
        _fact("EarningsPerShareDiluted", "2.10", "Diluted", end="2025-09-27"),
    ]
    _filing(conn, NEW, "2025-10-31", restated)
    eps = {"names": ["EarningsPerShareDiluted"]}
    assert _values(conn, **eps) == [
        ("EarningsPerShareDiluted", "2.10", NEW),
        ("EarningsPerShareDiluted", "0.17", NEW),
    ]
    assert _values(conn, **eps, cutoff="2025-01-01") == [("EarningsPerShareDiluted", "1.74", OLD)]
    assert len(_values(conn, **eps, latest=False)) == 3
    with transaction(conn):  # deleting a filing takes its facts and its extraction record
        conn.execute("DELETE FROM filings WHERE accession = ?", (NEW,))
    assert _values(conn, **eps) == [("EarningsPerShareDiluted", "1.74", OLD)]
    assert xq.extraction(conn, NEW) is None
