"""Numeric questions answered from facts (appliance/rag/numeric.py) over the shared XBRL
filings: the exact value, unit, period, the computed change, derived quarters, segments,
point in time, and the questions it must leave to the text search."""

from __future__ import annotations

from datetime import date

import pytest

from appliance.db.connection import Connection
from appliance.rag.numeric import FactAnswer, answer_from_facts
from appliance.rag.periods import AskedPeriod, asked_period

APPLE, NVIDIA, TESLA = 320193, 1045810, 1318605
WORDS = {APPLE: {"apple", "aapl"}, NVIDIA: {"nvidia", "nvda"}, TESLA: {"tesla", "tsla"}}


@pytest.fixture(scope="module")
def conn(facts_conn: Connection) -> Connection:
    """The imported filings on each engine: every test here runs on SQLite and PostgreSQL."""
    return facts_conn


def ask(conn: Connection, cik: int, question: str, cutoff: str | None = None) -> FactAnswer | None:
    return answer_from_facts(conn, question, cik, cutoff, WORDS[cik])


def test_annual_value_with_unit_period_and_computed_change(conn: Connection) -> None:
    found = ask(conn, NVIDIA, "What was Nvidia's gross profit in fiscal 2024?")
    assert found is not None
    assert "$44,301 million ($44,301,000,000)" in found.answer
    assert "fiscal 2024 (January 30, 2023 to January 28, 2024)" in found.answer
    assert "up 188.5% from $15,356 million" in found.answer  # 44,301 / 15,356 - 1
    assert "computed" in found.answer
    value, prior = found.facts
    assert (value["role"], value["value"], value["unit"], value["fy"], value["fp"]) == (
        "value", "44301000000", "USD", 2024, "FY",
    )  # fmt: skip
    assert value["change_percent"] == "188.49"
    assert (prior["role"], prior["value"], prior["fy"]) == ("prior", "15356000000", 2023)
    cite = found.citations[0]
    assert cite["accession"] == "0001045810-25-000023" and cite["section"] == "15"
    assert "Gross profit" in cite["text"] and "44,301" in cite["text"]
    assert cite["url"] and cite["fact"] == "us-gaap:GrossProfit"


def test_a_fourth_quarter_is_computed_and_says_so(conn: Connection) -> None:
    found = ask(conn, APPLE, "What was Apple's net income in the fourth quarter of fiscal 2025?")
    assert found is not None
    value = found.facts[0]
    assert value["derived"] is True and value["value"] == "27466000000"  # 112,010 - 84,544
    assert "computed as $112,010 million" in found.answer
    assert "minus $84,544 million" in found.answer
    # The value's two filings first, then those of last year's (also computed) fourth quarter.
    assert [c["accession"] for c in found.citations] == [
        "0000320193-25-000079",
        "0000320193-25-000073",
        "0000320193-24-000123",
        "0000320193-24-000081",
    ]
    assert "up 86.4% from $14,736 million" in found.answer  # 27,466 / (93,736 - 79,000) - 1


def test_a_segment_named_by_the_question(conn: Connection) -> None:
    found = ask(conn, NVIDIA, "How much did NVIDIA's data center revenue grow in fiscal 2025?")
    assert found is not None
    assert "data center revenue" in found.answer.lower()
    assert "$115,186 million" in found.answer and "up 142.4% from $47,525 million" in found.answer
    # A segment the company does not tag is never answered with the company's total.
    assert ask(conn, APPLE, "What was Apple's widget revenue in fiscal 2025?") is None


def test_balance_as_of_a_date(conn: Connection) -> None:
    found = ask(conn, TESLA, "How much cash did Tesla hold at the end of 2024?")
    assert found is not None
    assert "as of December 31, 2024" in found.answer and "$16,139 million" in found.answer


def test_point_in_time_and_restatements(conn: Connection) -> None:
    question = "What were NVIDIA's diluted earnings per share for fiscal 2023?"
    then = ask(conn, NVIDIA, question, cutoff="2024-06-01")
    now = ask(conn, NVIDIA, question)
    assert then is not None and "$1.74 per share" in then.answer
    assert now is not None and "$0.17 per share" in now.answer  # recast for the 2024 split
    assert then.citations[0]["accession"] == "0001045810-23-000017"
    # Not filed yet as of the cutoff: no answer from facts.
    assert ask(conn, APPLE, "What was Apple's revenue for fiscal 2025?", "2025-06-01") is None


def test_a_quarter_named_by_its_months_or_its_end_month_is_that_quarter(conn: Connection) -> None:
    # These read as the bare year 2025 before the question's period had one parser, and were
    # answered with the fiscal year's $112,010 million.
    for question in (
        "What was Apple's net income in April\u2013June 2025?",
        "What was Apple's net income for the three months ended June 2025?",
    ):
        found = ask(conn, APPLE, question)
        assert found is not None, question
        assert "third quarter of fiscal 2025" in found.answer and "$23,434 million" in found.answer


_Q3_25 = ("third quarter of fiscal 2025", "$23,434 million")
_FY24 = ("fiscal 2024 (October 1, 2023", "$391,035 million")


@pytest.mark.parametrize(
    ("question", "said", "figure"),
    [
        # The period written before the metric was read as a segment's name ("third-quarter
        # net income" as the net income of a segment called "third-quarter"): no answer.
        ("What was Apple's third-quarter net income in fiscal 2025?", *_Q3_25),
        ("What was Apple's Q3 2025 net income?", *_Q3_25),
        ("What was Apple's fiscal 2024 revenue?", *_FY24),
        ("What was Apple's full-year 2024 revenue?", *_FY24),
        ("What was Apple's 2025 net income?", "fiscal 2025 (September 29, 2024", "$112,010"),
        # ... and hyphenated spans were not spans: "first-half" answered the whole year.
        ("What were Apple's first-half fiscal 2025 net sales?", "first six months", "$219,6"),
        ("What was Apple's nine-month net income in fiscal 2025?", "first nine months", "$84,544"),
    ],
)
def test_a_period_written_before_the_metric_is_the_period(
    conn: Connection, question: str, said: str, figure: str
) -> None:
    found = ask(conn, APPLE, question)
    assert found is not None, question
    assert said in found.answer and figure in found.answer, found.answer


def test_a_segment_before_the_metric_is_still_a_segment(conn: Connection) -> None:
    found = ask(conn, NVIDIA, "What was Nvidia's fiscal 2024 data center revenue?")
    assert found is not None and "data center revenue for fiscal 2024" in found.answer
    assert "$47,525 million" in found.answer


def test_questions_left_to_the_text_search(conn: Connection) -> None:
    for question in (
        "Why did Apple's gross margin change in fiscal 2025?",
        "How did tariffs affect Apple's gross margin in fiscal 2025?",
        "How many employees does Apple have?",
        "What are Apple's main risk factors?",
        "Who audits Apple's financial statements?",
    ):
        assert ask(conn, APPLE, question) is None, question


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("revenue for fiscal year 2025", AskedPeriod(fy=2025, fp="FY", annual=True)),
        ("revenue in FY24", AskedPeriod(fy=2024, fp="FY")),
        ("the third quarter of fiscal 2024", AskedPeriod(fy=2024, fp="Q3", quarterly=True)),
        ("Q1 2025 sales", AskedPeriod(fy=2025, fp="Q1", quarterly=True)),
        ("the first half of fiscal 2026", AskedPeriod(fy=2026, fp="6M")),
        ("first-half revenue in fiscal 2026", AskedPeriod(fy=2026, fp="6M")),
        ("nine-month net income in fiscal 2025", AskedPeriod(fy=2025, fp="9M")),
        ("in the nine months of fiscal 2025", AskedPeriod(fy=2025, fp="9M")),
        (
            "the quarter ended March 29, 2025",
            AskedPeriod(fp="Q", end=date(2025, 3, 29), quarterly=True),
        ),
        (
            "the fiscal year ended January 29, 2023",
            AskedPeriod(fp="FY", end=date(2023, 1, 29), annual=True),
        ),
        ("total assets as of September 28, 2024", AskedPeriod(end=date(2024, 9, 28))),
        ("the July-September 2024 quarter", AskedPeriod(quarter_month=(2024, 9), quarterly=True)),
        ("net income in 2024", AskedPeriod(year=2024)),
        ("the most recent annual revenue", AskedPeriod(latest=True, annual=True)),
        ("revenue", AskedPeriod()),
        # Read the way retrieval reads them (appliance.rag.periods.parse), pinned:
        ("revenue in FY99", AskedPeriod(fy=1999, fp="FY")),  # was 2099
        ("revenue in the FY2024 10-K", AskedPeriod(fy=2024, fp="FY", annual=True)),
        ("sales in April\u2013June 2025", AskedPeriod(quarter_month=(2025, 6))),
        (
            "revenue for the three months ended July 2025",
            AskedPeriod(quarter_month=(2025, 7), quarterly=True),
        ),
        (
            "second-quarter revenue in fiscal 2025",
            AskedPeriod(fy=2025, fp="Q2", quarterly=True),
        ),
        (
            "the three months to April 1, 2000",
            AskedPeriod(fp="Q", end=date(2000, 4, 1), quarterly=True),
        ),
    ],
)
def test_period_words(question: str, expected: AskedPeriod) -> None:
    assert asked_period(question) == expected
