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
"the second quarter of fiscal 2026"), a span by its end ("the quarter ended July 2025",
"the three months to April 1, 2000", "the fiscal year ended January 29, 2023"), a quarter by
its months ("April-June 2025", "the September 2024 quarter"), a calendar year ("calendar
2024") or a day ("as of September 28, 2024"). One scan (:func:`_phrases`) reads those
phrases, and two views serve the two readers: :func:`parse` gives retrieval the
:class:`PeriodRef` values that :func:`matches` grades filings against, and
:func:`asked_period` gives the numeric answer (:mod:`appliance.rag.numeric`) the one
:class:`AskedPeriod` whose fact it looks up, with the words only it needs ("the first half",
"most recent", a bare "in 2024"). Bare years are left out of :func:`parse`, to the
retriever's softer year preference: "revenue in 2023" is also reported in the fiscal 2024
annual report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from appliance.edgar.months import MONTH_PATTERN, MONTHS

__all__ = [
    "AskedPeriod",
    "FilingPeriod",
    "PeriodRef",
    "asked_period",
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
_ORDINALS = "(" + "|".join(_ORDINAL) + ")"
# The words before a fiscal year: "fiscal", "fiscal year", "FY", "FY '25"
_FISCAL = r"((?:fiscal\s+(?:year\s+)?|fy\s?)'?)"

# The phrases (see _READERS for the order they are read in):
# "the quarter ended March 29, 2025", "three months to April 1, 2000", "quarter ending in July
# 2025", "the first quarter ended ...", "six months ended ...", "the fiscal year ended ..."
_ENDED = re.compile(
    r"\b(?:" + _ORDINALS + r"[\s-]+(?:fiscal\s+)?)?"
    r"(quarter|three\s+months|3\s+months|six\s+months|6\s+months|nine\s+months|9\s+months|year)"
    r"\s+(?:that\s+)?(?:ended|ending|to|through)\s+(?:in\s+)?"
    + _MONTH
    + r"\s*(\d{1,2})?\s*,?\s*"
    + _YEAR4,
    re.IGNORECASE,
)
_SPAN = {"quarter": "Q", "three": "Q", "3": "Q", "six": "6M", "6": "6M", "nine": "9M", "9": "9M"}
# "the second quarter of fiscal 2026", "third quarter of 2025", "fiscal first-quarter", "the
# fourth quarter" (its year may be named elsewhere: "in fiscal 2025, the fourth quarter")
_Q_WORDS = re.compile(
    r"\b(fiscal\s+)?" + _ORDINALS + r"[\s-]+(fiscal\s+)?quarter\b"
    r"(?:\s+(?:of\s+)?" + _FISCAL + r"?" + _YEAR4 + r")?",
    re.IGNORECASE,
)
# "Q2 FY2026", "Q2 fiscal 2026", "Q2 2025", "Q1'25", "Q3"; in "the Q2 10-Q" the 10 is a form
_Q_FIRST = re.compile(
    r"\bq([1-4])(?:\s*(?:of\s+)?" + _FISCAL + r"?((?:19|20)\d\d|'?\d\d(?!\s*-\s*[qk]\b)))?\b",
    re.IGNORECASE,
)
# "April-June 2025" (hyphen or en/em dash), "Jan to Mar 2025", "May through July 2025"
_MONTH_RANGE = re.compile(
    r"\b" + _MONTH + r"\s*(?:-|\u2013|\u2014|to|through)\s*" + _MONTH + r"\s*,?\s*" + _YEAR4,
    re.IGNORECASE,
)
# "the September 2024 quarter"
_MONTH_QUARTER = re.compile(r"\b" + _MONTH + r"\s*,?\s*" + _YEAR4 + r"\s+quarter\b", re.I)
_CALENDAR = re.compile(r"\bcalendar\s+(?:year\s+)?" + _YEAR4, re.IGNORECASE)
# "fiscal 2025", "fiscal year 2025", "FY2025", "FY 25", "FY'25"; not "fiscal 2024-2025"
_FISCAL_YEAR = re.compile(r"\b" + _FISCAL + r"((?:19|20)\d\d|\d\d)\b(?!\s*-\s*\d)", re.IGNORECASE)
# A day: "September 28, 2024" (after "as of", "at the end of", or a span's end read above)
_DAY = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2}),?\s+" + _YEAR4 + r"\b", re.IGNORECASE)

# Words only the numeric answer reads: a span without its end, which report, how recent.
# (hyphenated too, as analysts write them before a metric: "first-half revenue", "nine-month")
_HALF = re.compile(r"\b(first[\s-]+half|(?:six|6)[\s-]+months?|h1)\b", re.IGNORECASE)
_NINE = re.compile(r"\b((?:nine|9)[\s-]+months?|first[\s-]+three[\s-]+quarters)\b", re.IGNORECASE)
_BARE_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_LATEST = re.compile(r"\b(latest|most recent|current(?:ly)?|last reported|newest)\b", re.I)
_ANNUAL = re.compile(r"\b(annual|fiscal year|full[- ]year|year ended|10-?k)\b", re.IGNORECASE)
_QUARTERLY = re.compile(r"\b(quarter(?:ly)?|three months|10-?q)\b", re.IGNORECASE)


@dataclass(frozen=True)
class FilingPeriod:
    """The fiscal period a filing reports: a whole year (``quarter`` None) or one quarter."""

    fiscal_year: int
    quarter: int | None
    start: date
    end: date


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


@dataclass(frozen=True, slots=True)
class AskedPeriod:
    """The one period a numeric question asks for, as fact periods name it."""

    fy: int | None = None
    fp: str | None = None  # FY, Q1..Q4, 6M, 9M; "Q" for a quarter named by its end day
    end: date | None = None  # a day named: "quarter ended March 29, 2025", "as of ..."
    quarter_month: tuple[int, int] | None = None  # (year, month) a quarter ends in
    year: int | None = None  # a bare year: "in 2024"
    latest: bool = False
    annual: bool = False  # the question says annual / quarterly
    quarterly: bool = False

    @property
    def named(self) -> bool:
        return any(
            v is not None for v in (self.fy, self.fp, self.end, self.quarter_month, self.year)
        )


@dataclass(frozen=True, slots=True)
class _Phrase:
    """One period phrase of a question, read once for both views."""

    ref: PeriodRef | None = None  # what retrieval grades filings against
    fiscal_year: int | None = None
    quarter: int | None = None
    day: date | None = None  # a day named
    span: str | None = None  # the span that day ends: Q, 6M, 9M or FY
    quarter_month: tuple[int, int] | None = None


def _year(text: str) -> int:
    digits = text.lstrip("'")
    y = int(digits)
    return y if len(digits) == 4 else (2000 + y if y < 70 else 1900 + y)


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _month(word: str) -> int:
    return MONTHS[word.lower().rstrip(".")]


def _day(year: int, month: int, day: str | None) -> date | None:
    try:
        return date(year, month, int(day)) if day else None
    except ValueError:
        return None  # "February 30": the month is still named


def _quarter_ending(end: date) -> _Phrase:
    """A quarter named by the month it ends in (its day unknown)."""
    return _Phrase(
        PeriodRef(start=end - timedelta(days=90), end=end), quarter_month=(end.year, end.month)
    )


def _ended(m: re.Match[str]) -> _Phrase:
    lead = m.group(2).lower()
    month, year = _month(m.group(3)), int(m.group(5))
    day = _day(year, month, m.group(4))
    end = day or _month_end(year, month)
    span = "FY" if lead == "year" else _SPAN[lead.split()[0]]
    if span == "FY":
        return _Phrase(PeriodRef(start=end - timedelta(days=364), end=end), day=day, span=span)
    if span != "Q":
        return _Phrase(day=day, span=span)  # "six months ended ...": not a filing's span
    if day is None:
        return _quarter_ending(end)
    quarter = _ORDINAL[m.group(1).lower()] if m.group(1) else None
    ref = PeriodRef(start=end - timedelta(days=90), end=end)
    return _Phrase(ref, quarter=quarter, day=day, span=span)


def _quarter(quarter: int, year: str | None, fiscal: bool) -> _Phrase:
    if year is None:
        return _Phrase(quarter=quarter)  # "the fourth quarter": its year named elsewhere
    fy = _year(year)
    return _Phrase(PeriodRef(fy, quarter, explicit=fiscal), fiscal_year=fy, quarter=quarter)


def _q_words(m: re.Match[str]) -> _Phrase:
    fiscal = bool(m.group(1) or m.group(3) or m.group(4))
    return _quarter(_ORDINAL[m.group(2).lower()], m.group(5), fiscal)


def _q_first(m: re.Match[str]) -> _Phrase:
    return _quarter(int(m.group(1)), m.group(3), bool(m.group(2)))


def _month_range(m: re.Match[str]) -> _Phrase:
    first, last, year = _month(m.group(1)), _month(m.group(2)), int(m.group(3))
    start = date(year - 1 if first > last else year, first, 1)
    end = _month_end(year, last)
    three = (last - first) % 12 == 2  # a quarter by its months
    return _Phrase(PeriodRef(start=start, end=end), quarter_month=(year, last) if three else None)


def _month_quarter(m: re.Match[str]) -> _Phrase:
    return _quarter_ending(_month_end(int(m.group(2)), _month(m.group(1))))


def _calendar(m: re.Match[str]) -> _Phrase:
    y = int(m.group(1))
    return _Phrase(PeriodRef(start=date(y, 1, 1), end=date(y, 12, 31)))


def _fiscal_year(m: re.Match[str]) -> _Phrase:
    fy = _year(m.group(2))
    return _Phrase(PeriodRef(fy), fiscal_year=fy)


def _a_day(m: re.Match[str]) -> _Phrase | None:
    day = _day(int(m.group(3)), _month(m.group(1)), m.group(2))
    return _Phrase(day=day) if day else None


# In the order they claim words: a phrase overlapping one claimed before it is not read (the
# "FY2026" of "Q2 FY2026" is no fiscal year of its own, nor the day of "quarter ended <day>").
_READERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _Phrase | None]], ...] = (
    (_ENDED, _ended),
    (_Q_WORDS, _q_words),
    (_Q_FIRST, _q_first),
    (_MONTH_RANGE, _month_range),
    (_MONTH_QUARTER, _month_quarter),
    (_CALENDAR, _calendar),
    (_FISCAL_YEAR, _fiscal_year),
    (_DAY, _a_day),
)


def _phrases(text: str) -> list[_Phrase]:
    """The period phrases of a question, in order of appearance."""
    found: list[tuple[int, _Phrase]] = []
    taken: list[tuple[int, int]] = []
    for pattern, read in _READERS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            phrase = read(m)
            if phrase is not None:
                taken.append((m.start(), m.end()))
                found.append((m.start(), phrase))
    found.sort(key=lambda x: x[0])
    return [phrase for _, phrase in found]


def _plain(question: str) -> str:
    return question.replace("\u2019", "'")  # "FY\u201925" as "FY'25"


def parse(question: str) -> list[PeriodRef]:
    """The periods a question names, in order of appearance (duplicates dropped)."""
    refs = (p.ref for p in _phrases(_plain(question)) if p.ref is not None)
    return list(dict.fromkeys(refs))


def _first(phrases: Iterable[_Phrase]) -> _Phrase | None:
    return next(iter(phrases), None)


def asked_period(question: str) -> AskedPeriod:
    """The period a numeric question names (all fields None when it names none).

    The first quarter named gives the quarter (and its year, else the first fiscal year
    named); the first day named gives the end day and, from the words before it, the span
    ("the quarter ended March 29, 2025"); a quarter by its months counts only when no quarter
    is named by number; a bare year only when nothing else dates the question.
    """
    text = _plain(question)
    phrases = _phrases(text)
    dated = _first(p for p in phrases if p.day is not None)
    quarter = _first(p for p in phrases if p.quarter is not None)
    months = _first(p for p in phrases if p.quarter_month is not None)
    end = dated.day if dated else None
    span = dated.span if dated else None
    fp = f"Q{quarter.quarter}" if quarter else None
    fy = quarter.fiscal_year if quarter else None
    quarter_month = months.quarter_month if months and quarter is None else None
    if fp is None and _HALF.search(text):
        fp = "6M"
    elif fp is None and _NINE.search(text):
        fp = "9M"
    if fp is None and span in ("6M", "9M", "FY"):
        fp = span
    if fy is None:
        named_fy = _first(p for p in phrases if p.fiscal_year is not None)
        fy = named_fy.fiscal_year if named_fy else None
    if fy is not None and fp is None and end is None and quarter_month is None:
        fp = "FY"
    year = None
    if fy is None and end is None and quarter_month is None:
        bare = _BARE_YEAR.findall(text)
        year = int(bare[-1]) if bare else None
    return AskedPeriod(
        fy=fy,
        fp=fp if fp else ("Q" if span == "Q" else None),
        end=end,
        quarter_month=quarter_month,
        year=year,
        latest=bool(_LATEST.search(text)),
        annual=bool(_ANNUAL.search(text)) or span == "FY",
        quarterly=bool(_QUARTERLY.search(text)) or span == "Q" or (fp or "").startswith("Q"),
    )


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
