"""Fiscal periods: which fiscal year and quarter a filing covers, and which a question names.

A filing's period comes from its own metadata: the period of report (the cover page's
"for the fiscal year ended ..." / "for the quarterly period ended ...", or the inline-XBRL
``dei:DocumentPeriodEndDate``) and the company's fiscal year end, taken from its annual
reports' periods. Two conventions matter:

- A fiscal year is named by the calendar year it ends in (Apple's fiscal 2025 ended
  September 27, 2025; NVIDIA's fiscal 2025 ended January 26, 2025), except that a 52-53-week
  year ending in the first days of January is named by the year before, as the cover page
  of such a filer names it (a year "ended January 3, 2021" is fiscal 2020). Without this,
  those filers are labelled one fiscal year late.
- A quarterly report belongs to the fiscal year whose end follows its period, and its
  quarter number counts the quarters since the previous fiscal year end (NVIDIA's quarter
  ended July 27, 2025 is Q2 of fiscal 2026).

A question can name a fiscal year ("fiscal 2025", "FY25"), a fiscal quarter ("Q2 FY2026",
"the second quarter of fiscal 2026"), a quarter by its end ("the quarter ended July 2025",
"the three months to April 1, 2000") or by its months ("April-June 2025"), or a calendar
year ("calendar 2024"). :func:`parse` turns those into :class:`PeriodRef` values;
:func:`matches` says how well a filing's period answers one. Bare years ("in 2023") are
left to the retriever's softer year preference: "revenue in 2023" is also reported in the
fiscal 2024 annual report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from appliance.edgar.months import MONTH_PATTERN, MONTHS

__all__ = [
    "FilingPeriod",
    "PeriodRef",
    "filing_period",
    "fiscal_year_label",
    "matches",
    "parse",
    "year_end_of",
]

_MONTH = MONTH_PATTERN  # one group: the month word
_YEAR4 = r"((?:19|20)\d\d)"
_ORDINAL = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}

# "fiscal 2025", "fiscal year 2025", "FY2025", "FY 25", "FY'25"
_FISCAL_YEAR = re.compile(
    r"\b(?:fiscal\s+(?:year\s+)?|fy\s?'?)(\d{4}|\d{2})\b(?!\s*-\s*\d)", re.IGNORECASE
)
# "Q2 FY2026", "Q2 fiscal 2026", "Q2 2025", "2Q25"
_Q_FIRST = re.compile(
    r"\bq([1-4])\s*(?:of\s+)?(fiscal\s+(?:year\s+)?|fy\s?'?)?(\d{4}|'?\d{2})\b", re.IGNORECASE
)
# "the second quarter of fiscal 2026", "third quarter of 2025", "fourth quarter fiscal 2019"
_Q_WORDS = re.compile(
    r"\b(fiscal\s+)?(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+(fiscal\s+)?quarter\s+(?:of\s+)?"
    r"(fiscal\s+(?:year\s+)?|fy\s?'?)?" + _YEAR4,
    re.IGNORECASE,
)
# "the quarter ended July 2025", "quarter ending June 30, 2025", "three months to April 1, 2000"
_Q_ENDED = re.compile(
    r"\b(?:quarter|three\s+months|3\s+months)\s+(?:that\s+)?(?:ended|ending|to|through)\s+"
    + _MONTH
    + r"\s*(\d{1,2})?\s*,?\s*"
    + _YEAR4,
    re.IGNORECASE,
)
# "April-June 2025" (hyphen or en/em dash), "Jan to Mar 2025", "May through July 2025"
_MONTH_RANGE = re.compile(
    r"\b" + _MONTH + r"\s*(?:-|\u2013|\u2014|to|through)\s*" + _MONTH + r"\s*,?\s*" + _YEAR4,
    re.IGNORECASE,
)
# "the year ended June 30, 1999", "fiscal year ending January 2025"
_Y_ENDED = re.compile(
    r"\byear\s+(?:that\s+)?(?:ended|ending)\s+" + _MONTH + r"\s*(\d{1,2})?\s*,?\s*" + _YEAR4,
    re.IGNORECASE,
)
_CALENDAR = re.compile(r"\bcalendar\s+(?:year\s+)?" + _YEAR4, re.IGNORECASE)


@dataclass(frozen=True)
class FilingPeriod:
    """The fiscal period a filing reports: a whole year (``quarter`` None) or one quarter."""

    fiscal_year: int
    quarter: int | None
    start: date
    end: date


@dataclass(frozen=True)
class PeriodRef:
    """A period a question names.

    ``fiscal_year`` (+ ``quarter``) when it names fiscal labels; ``start``/``end`` when it
    names dates (a quarter by its end month, months, a calendar year). ``explicit`` is False
    for forms that also read as calendar dates ("Q2 2025").
    """

    fiscal_year: int | None = None
    quarter: int | None = None
    start: date | None = None
    end: date | None = None
    explicit: bool = True


def _year(text: str) -> int:
    digits = text.lstrip("'")
    y = int(digits)
    return y if len(digits) == 4 else (2000 + y if y < 70 else 1900 + y)


def fiscal_year_label(end: date) -> int:
    """The fiscal year a year ending on ``end`` is named by (see the module docstring)."""
    return end.year - 1 if end.month == 1 and end.day <= 7 else end.year


def year_end_of(annual_period_ends: Iterable[date]) -> tuple[int, int] | None:
    """The company's fiscal year end (month, day), from its annual reports' period ends.

    52-53-week years end on a weekday near a fixed date, so the newest report's month and
    day stand for all years (within a week, which is all the quarter arithmetic needs).
    """
    ends = sorted(annual_period_ends)
    return (ends[-1].month, ends[-1].day) if ends else None


def _year_end_after(day: date, month_day: tuple[int, int]) -> date:
    """The first fiscal year end on or after ``day`` (a week's slack for 52-53-week years)."""
    m, d = month_day
    for year in (day.year, day.year + 1):
        try:
            end = date(year, m, min(d, 28) if m == 2 else d)
        except ValueError:
            end = date(year, m, 28)
        if end >= day - timedelta(days=7):
            return end
    return date(day.year + 1, m, min(d, 28))


def filing_period(
    family: str, period_end: date | None, filing_date: date, year_end: tuple[int, int] | None
) -> FilingPeriod:
    """The fiscal period a filing of form ``family`` ('10-K', '10-Q', ...) covers.

    Without a period of report, an annual report filed early in a year is taken to cover the
    year before, and a quarterly report the quarter ended about six weeks before filing.
    """
    if family == "10-Q":
        end = period_end or (filing_date - timedelta(days=42))
        fy_end = _year_end_after(end, year_end or (12, 31))
        fy_start = date(fy_end.year - 1, fy_end.month, 1) + timedelta(days=fy_end.day)
        quarter = min(4, max(1, round((end - fy_start).days / 91.3)))
        return FilingPeriod(fiscal_year_label(fy_end), quarter, end - timedelta(days=90), end)
    if period_end is None:
        year = filing_date.year - 1 if filing_date.month <= 4 else filing_date.year
        period_end = date(year, 12, 31)
    start = period_end - timedelta(days=364)
    return FilingPeriod(fiscal_year_label(period_end), None, start, period_end)


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def parse(question: str) -> list[PeriodRef]:
    """The periods a question names, in order of appearance (duplicates dropped)."""
    found: list[tuple[int, PeriodRef]] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], ref: PeriodRef) -> None:
        if any(a < m.end() and m.start() < b for a, b in taken):
            return
        taken.append((m.start(), m.end()))
        found.append((m.start(), ref))

    for m in _Q_WORDS.finditer(question):
        fiscal = bool(m.group(1) or m.group(3) or m.group(4))
        add(m, PeriodRef(_year(m.group(5)), _ORDINAL[m.group(2).lower()], explicit=fiscal))
    for m in _Q_FIRST.finditer(question):
        add(m, PeriodRef(_year(m.group(3)), int(m.group(1)), explicit=bool(m.group(2))))
    for m in _Q_ENDED.finditer(question):
        month, year = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(3))
        end = _month_end(year, month)
        add(m, PeriodRef(start=end - timedelta(days=90), end=end))
    for m in _MONTH_RANGE.finditer(question):
        first, last = (
            MONTHS[m.group(1).lower().rstrip(".")],
            MONTHS[m.group(2).lower().rstrip(".")],
        )
        year = int(m.group(3))
        start_year = year - 1 if first > last else year
        add(m, PeriodRef(start=date(start_year, first, 1), end=_month_end(year, last)))
    for m in _Y_ENDED.finditer(question):
        month, year = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(3))
        end = _month_end(year, month)
        add(m, PeriodRef(start=end - timedelta(days=364), end=end))
    for m in _CALENDAR.finditer(question):
        y = int(m.group(1))
        add(m, PeriodRef(start=date(y, 1, 1), end=date(y, 12, 31)))
    for m in _FISCAL_YEAR.finditer(question):
        add(m, PeriodRef(_year(m.group(1))))
    found.sort(key=lambda x: x[0])
    return list(dict.fromkeys(ref for _, ref in found))


def matches(period: FilingPeriod, ref: PeriodRef) -> float:
    """How well a filing's period answers a named period: 1.0 exactly, 0.5 partly, 0.0 not.

    A fiscal year is answered exactly by its annual report and partly by its quarterly
    reports; a quarter exactly by its quarterly report (and partly by the annual report of
    its year, which reports the fourth quarter). Dates match exactly a filing whose period
    ends within a week of the named end, and partly one of about the same length whose period
    covers most of the named span (an annual report does not answer for one quarter).
    """
    if ref.fiscal_year is not None:
        if period.fiscal_year != ref.fiscal_year:
            return 0.0
        if ref.quarter is None:
            return 1.0 if period.quarter is None else 0.5
        if period.quarter == ref.quarter:
            return 1.0
        return 0.5 if period.quarter is None and ref.quarter == 4 else 0.0
    if ref.start is None or ref.end is None:
        return 0.0
    if abs((period.end - ref.end).days) <= 7:
        return 1.0
    overlap = (min(period.end, ref.end) - max(period.start, ref.start)).days
    span = max(1, (ref.end - ref.start).days)
    comparable = (period.end - period.start).days <= 1.5 * span
    return 0.5 if comparable and overlap >= 0.6 * span else 0.0
