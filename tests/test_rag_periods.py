"""Fiscal periods: filings labelled by the fiscal year they cover, questions' named periods."""

from __future__ import annotations

from datetime import date

import pytest

from appliance.rag.periods import (
    FilingPeriod,
    PeriodRef,
    asked_period,
    filing_period,
    fiscal_year_label,
    matches,
    parse,
    year_end_of,
)


@pytest.mark.parametrize(
    ("end", "label"),
    [
        (date(2025, 9, 27), 2025),  # Apple: late September
        (date(2025, 1, 26), 2025),  # NVIDIA: late January names the year it ends in
        (date(2021, 1, 3), 2020),  # 52-53-week year ending January 3: the year before
        (date(2023, 12, 31), 2023),
        (date(2022, 1, 1), 2021),
    ],
)
def test_fiscal_year_label(end: date, label: int) -> None:
    assert fiscal_year_label(end) == label


def test_annual_report_of_a_52_53_week_filer_is_not_a_year_late() -> None:
    p = filing_period("10-K", date(2021, 1, 3), date(2021, 2, 22), (1, 3))
    assert p.fiscal_year == 2020 and p.quarter is None


def test_quarterly_reports_belong_to_the_fiscal_year_that_follows() -> None:
    nvda = filing_period("10-Q", date(2025, 7, 27), date(2025, 8, 27), (1, 26))
    assert (nvda.fiscal_year, nvda.quarter) == (2026, 2)
    aapl = filing_period("10-Q", date(2025, 6, 28), date(2025, 8, 1), (9, 27))
    assert (aapl.fiscal_year, aapl.quarter) == (2025, 3)
    aapl_q2 = filing_period("10-Q", date(2025, 3, 29), date(2025, 5, 2), (9, 27))
    assert (aapl_q2.fiscal_year, aapl_q2.quarter) == (2025, 2)
    calendar = filing_period("10-Q", date(2025, 6, 30), date(2025, 7, 24), None)
    assert (calendar.fiscal_year, calendar.quarter) == (2025, 2)


def test_missing_period_of_report_falls_back_on_the_filing_date() -> None:
    assert filing_period("10-K", None, date(1996, 3, 1), None).fiscal_year == 1995
    assert filing_period("10-K", None, date(1996, 9, 1), None).fiscal_year == 1996


def test_year_end_from_the_newest_annual_report() -> None:
    assert year_end_of([date(2023, 9, 30), date(2025, 9, 27)]) == (9, 27)
    assert year_end_of([]) is None


def test_parse_names_fiscal_years_quarters_and_spans() -> None:
    assert parse("How much iPhone revenue did Apple book in fiscal 2025?") == [PeriodRef(2025)]
    assert parse("capex FY25 and FY 2024") == [PeriodRef(2025), PeriodRef(2024)]
    assert parse("buybacks in the second quarter of fiscal 2026") == [PeriodRef(2026, 2)]
    assert parse("Q3 FY2025 margin") == [PeriodRef(2025, 3)]
    # "Q2 2025" may mean the fiscal or the calendar quarter: a preference, never a filter.
    assert parse("Q2 2025 revenue") == [PeriodRef(2025, 2, explicit=False)]
    assert parse("revenue for the quarter ended July 2025") == [
        PeriodRef(start=date(2025, 5, 2), end=date(2025, 7, 31))
    ]
    assert parse("services revenue during January\u2013March 2025") == [
        PeriodRef(start=date(2025, 1, 1), end=date(2025, 3, 31))
    ]
    assert parse("NVIDIA gross margin for calendar 2024 (its fiscal 2025)") == [
        PeriodRef(start=date(2024, 1, 1), end=date(2024, 12, 31)),
        PeriodRef(2025),
    ]
    assert parse("products launched in the year ended June 1999")[0].end == date(1999, 6, 30)
    assert parse("How did revenue grow in 2023?") == []  # a bare year stays a soft preference


def test_matches_grades_how_well_a_filing_answers() -> None:
    annual = FilingPeriod(2025, None, date(2024, 9, 29), date(2025, 9, 27))
    q3 = FilingPeriod(2025, 3, date(2025, 3, 30), date(2025, 6, 28))
    assert matches(annual, PeriodRef(2025)) == 1.0
    assert matches(q3, PeriodRef(2025)) == 0.5
    assert matches(q3, PeriodRef(2025, 3)) == 1.0
    assert matches(annual, PeriodRef(2025, 4)) == 0.5
    assert matches(annual, PeriodRef(2024)) == 0.0
    (june,) = parse("the quarter ended June 2025")
    assert matches(q3, june) == 1.0 and matches(annual, june) == 0.0
    april_june = PeriodRef(start=date(2025, 4, 1), end=date(2025, 6, 30))
    assert matches(q3, april_june) == 1.0
    nvda_q2 = FilingPeriod(2026, 2, date(2025, 4, 28), date(2025, 7, 27))
    may_july = PeriodRef(start=date(2025, 5, 1), end=date(2025, 7, 31))
    assert matches(nvda_q2, may_july) == 1.0
    nvda_fy2025 = FilingPeriod(2025, None, date(2024, 1, 29), date(2025, 1, 26))
    assert matches(nvda_fy2025, parse("calendar 2024")[0]) == 0.5
    assert matches(q3, parse("calendar 2024")[0]) == 0.0


def test_a_span_named_by_its_end_day_ends_that_day() -> None:
    # A 52-53-week filer's quarter "to April 1, 2000" was read as ending April 30 (the month's
    # end): its own 10-Q then answered only partly.
    (q2,) = parse("the three months to April 1, 2000")
    assert q2 == PeriodRef(start=date(2000, 1, 2), end=date(2000, 4, 1))
    filed = FilingPeriod(2000, 2, date(2000, 1, 2), date(2000, 4, 1))
    assert matches(filed, q2) == 1.0
    (year,) = parse("revenue for the fiscal year ended January 3, 2021")
    assert year.end == date(2021, 1, 3)
    assert matches(filing_period("10-K", date(2021, 1, 3), date(2021, 2, 22), (1, 3)), year) == 1.0


def test_words_one_reader_knew_are_read_for_both() -> None:
    assert parse("net income in the September 2024 quarter") == [
        PeriodRef(start=date(2024, 7, 2), end=date(2024, 9, 30))
    ]
    assert parse("revenue in FY\u201925") == [PeriodRef(2025)]


@pytest.mark.parametrize(
    ("question", "fiscal_year", "quarter", "quarter_month"),
    [
        ("margin in Q3 FY2025", 2025, 3, None),
        ("buybacks in the second quarter of fiscal 2026", 2026, 2, None),
        ("capex FY25", 2025, None, None),
        ("sales in April-June 2025", None, None, (2025, 6)),
        ("sales in the quarter ended July 2025", None, None, (2025, 7)),
        ("sales in the June 2025 quarter", None, None, (2025, 6)),
    ],
)
def test_retrieval_and_numeric_answers_read_a_question_alike(
    question: str,
    fiscal_year: int | None,
    quarter: int | None,
    quarter_month: tuple[int, int] | None,
) -> None:
    (ref,) = parse(question)
    asked = asked_period(question)
    assert (ref.fiscal_year, ref.quarter) == (fiscal_year, quarter)
    assert asked.fy == fiscal_year and asked.quarter_month == quarter_month
    assert asked.fp == (f"Q{quarter}" if quarter else "FY" if fiscal_year else None)
    if quarter_month is not None:
        assert ref.end is not None and (ref.end.year, ref.end.month) == quarter_month


def test_a_form_name_after_a_quarter_is_not_its_year() -> None:
    # "the Q2 10-Q" is the second-quarter report, not the second quarter of 2010.
    assert parse("What did the Q2 10-Q say about revenue?") == []
    assert parse("In the Q1 10-K filing, what changed?") == []
    asked = asked_period("What did the Q2 10-Q say about revenue?")
    assert asked.fp == "Q2" and asked.fy is None
    assert parse("Q2 25 revenue")[0].fiscal_year == 2025
    assert parse("Q4 10 revenue")[0].fiscal_year == 2010
