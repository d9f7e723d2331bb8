"""The extracted facts against the hand-built fixture, and the statements' own arithmetic.

The fixture (tests/data/xbrl_facts_fixture.json) was typed from the rendered statements of
every shared filing with inline XBRL; each value must come out of import -> storage exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from appliance.db.connection import Connection, connect
from appliance.db.queries import facts as xq
from appliance.financials.lines import line
from tests.support.facts import fixture, printed_value

FIXTURE = fixture()


@pytest.fixture(scope="module")
def conn(facts_template: Path) -> Iterator[Connection]:
    c = connect(facts_template / "appliance.sqlite3", readonly=True)
    yield c
    c.close()


def _filing_facts(conn: Connection, accession: str) -> list[xq.StoredFact]:
    row = conn.execute("SELECT cik FROM filings WHERE accession = ?", (accession,)).fetchone()
    assert row is not None, f"{accession} not imported"
    return xq.facts_for(conn, row[0], accession=accession, latest=False, limit=100_000)


def _find(facts: list[xq.StoredFact], names: tuple[str, ...], start: str, end: str) -> str | None:
    for name in names:
        for f in facts:
            if f.name == name and f.period_start == start and f.period_end == end:
                return f.value
    return None


def test_the_fixture_is_big_enough() -> None:
    assert len(FIXTURE) == 10  # every shared filing whose HTML carries ix: tags
    for accession, entry in FIXTURE.items():
        need = 12 if entry["form"] == "10-K" else 8
        assert len(entry["facts"]) >= need, accession


@pytest.mark.parametrize("accession", sorted(FIXTURE))
def test_extracted_values_match_the_fixture_exactly(conn: Connection, accession: str) -> None:
    entry = FIXTURE[accession]
    facts = _filing_facts(conn, accession)
    wrong = []
    for want in entry["facts"]:
        names = line(want["line"]).concepts if "line" in want else (want["concept"].split(":")[1],)
        start = want.get("start", "")
        end = want.get("end") or want["instant"]
        got = _find(facts, names, start, end)
        expected = printed_value(want["printed"], want["in"])
        if got is None or Decimal(got) != expected:
            wrong.append((want.get("line") or want["concept"], start, end, str(expected), got))
    assert not wrong, wrong
    info = xq.extraction(conn, accession)
    assert info is not None
    assert (info.fiscal_year, info.fiscal_period, info.period_end) == (
        entry["fy"],
        entry["fp"],
        entry["period_end"],
    )
    assert info.conflicts == 0


def _value(facts: list[xq.StoredFact], name: str, start: str, end: str) -> Decimal | None:
    got = _find(facts, (name,), start, end)
    return None if got is None else Decimal(got)


def _tolerance(facts: list[xq.StoredFact], terms: int) -> Decimal:
    """The filing's rounding: half a unit of its coarsest ``decimals``, per term added."""
    coarsest = min(int(f.decimals) for f in facts if f.decimals and f.decimals != "INF")
    return Decimal(10) ** (-coarsest) * terms


ANNUAL = sorted(a for a, e in FIXTURE.items() if e["form"] == "10-K")


@pytest.mark.parametrize("accession", ANNUAL)
def test_assets_equal_liabilities_and_equity(conn: Connection, accession: str) -> None:
    facts = [f for f in _filing_facts(conn, accession) if not f.dimensions and f.numeric]
    instants = sorted({f.period_end for f in facts if f.name == "Assets"})
    assert len(instants) >= 2  # this year's balance sheet and last year's
    for at in instants:
        assets = _value(facts, "Assets", "", at)
        total = _value(facts, "LiabilitiesAndStockholdersEquity", "", at)
        assert assets is not None and assets == total, at
        liabilities = _value(facts, "Liabilities", "", at)
        assert liabilities is not None, at
        equity = _value(
            facts, "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest", "", at
        )
        parts = [liabilities]
        if equity is None:
            parts.append(_value(facts, "StockholdersEquity", "", at) or Decimal(0))
            parts.append(_value(facts, "MinorityInterest", "", at) or Decimal(0))
        else:
            parts.append(equity)
        for temporary in (
            "RedeemableNoncontrollingInterestEquityCarryingAmount",
            "TemporaryEquityCarryingAmountAttributableToParent",
        ):
            parts.append(_value(facts, temporary, "", at) or Decimal(0))
        assert abs(sum(parts) - assets) <= _tolerance(facts, len(parts)), (at, parts, assets)


@pytest.mark.parametrize("accession", ANNUAL)
def test_income_statement_adds_up(conn: Connection, accession: str) -> None:
    facts = [f for f in _filing_facts(conn, accession) if not f.dimensions and f.numeric]
    years = sorted({(f.period_start, f.period_end) for f in facts if f.fp == "FY"})
    checked = 0
    for start, end in years:

        def get(key: str, s: str = start, e: str = end) -> Decimal | None:
            for name in line(key).concepts:
                if (v := _value(facts, name, s, e)) is not None:
                    return v
            return None

        revenue, cost, gross = get("revenue"), get("cost_of_revenue"), get("gross_profit")
        opex, operating = get("operating_expenses"), get("operating_income")
        pretax, tax = get("pretax_income"), get("income_tax")
        profit = _value(facts, "ProfitLoss", start, end) or get("net_income")
        tolerance = _tolerance(facts, 3)
        if revenue is not None and cost is not None and gross is not None:
            assert abs(revenue - cost - gross) <= tolerance, (start, end)
            checked += 1
        if gross is not None and opex is not None and operating is not None:
            assert abs(gross - opex - operating) <= tolerance, (start, end)
            checked += 1
        if pretax is not None and tax is not None and profit is not None:
            assert abs(pretax - tax - profit) <= tolerance, (start, end)
            checked += 1
    assert checked >= 6  # three lines over (at least) the filing's own and last year
