"""Which fiscal period a numeric question asks about, in the words analysts use.

"fiscal 2025", "FY25", "the third quarter of fiscal 2024", "the quarter ended March 29, 2025",
"the April-June 2025 quarter", "the first half of fiscal 2026", "as of September 28, 2024",
"at the end of fiscal 2025", "in 2024", "most recent". Small and self-contained on purpose:
the numeric answer (:mod:`appliance.rag.numeric`) only needs an :class:`AskedPeriod`, so a
shared fiscal-period resolver can replace :func:`asked_period` without touching it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from appliance.edgar.months import MONTH_PATTERN, month_number

__all__ = ["AskedPeriod", "asked_period"]

_MONTH = MONTH_PATTERN
_DATE = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.IGNORECASE)
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
_QUARTER = re.compile(
    r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\b"
    r"(?:\s+(?:of\s+)?(?:fiscal\s+)?(?:year\s+)?(?:fy\s?)?'?((?:19|20)\d\d))?"
    r"|\bq([1-4])\s*(?:of\s+)?(?:fiscal\s+|fy\s?)?'?((?:19|20)?\d\d)?\b",
    re.IGNORECASE,
)
_MONTH_QUARTER = re.compile(
    rf"\b(?:{_MONTH}\s*(?:-|\u2013|to|through)\s*)?{_MONTH}\s+((?:19|20)\d\d)\s+quarter\b"
    rf"|\bquarter\s+end(?:ed|ing)\s+(?:in\s+)?{_MONTH}\s+((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_HALF = re.compile(r"\b(first half|six months|6 months|h1)\b", re.IGNORECASE)
_NINE = re.compile(r"\b(nine months|9 months|first three quarters)\b", re.IGNORECASE)
_FISCAL_YEAR = re.compile(
    r"\b(?:fiscal\s+(?:year\s+)?|fy\s?)'?((?:19|20)\d\d|\d\d)\b(?!\s*,?\s*\d)", re.IGNORECASE
)
_BARE_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_LATEST = re.compile(r"\b(latest|most recent|current(?:ly)?|last reported|newest)\b", re.I)
_ANNUAL = re.compile(r"\b(annual|fiscal year|full[- ]year|year ended|10-?k)\b", re.IGNORECASE)
_QUARTERLY = re.compile(r"\b(quarter(?:ly)?|three months|10-?q)\b", re.IGNORECASE)
_INSTANT = re.compile(r"\b(as of|at the end of|on|at)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AskedPeriod:
    fy: int | None = None
    fp: str | None = None  # FY, Q1..Q4, 6M, 9M
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


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def asked_period(question: str) -> AskedPeriod:
    """The period a question names (all fields None when it names none)."""
    text = question.replace("\u2019", "'")
    fy = fp = end = quarter_month = year = None
    kind = None
    for m in _DATE.finditer(text):
        try:
            end = date(int(m.group(3)), month_number(m.group(1)) or 0, int(m.group(2)))
        except (KeyError, ValueError):
            continue
        before = text[: m.start()].lower()
        if re.search(r"(three months|quarter)\s+end(ed|ing)\s*$", before):
            kind = "Q"
        elif re.search(r"six months\s+end(ed|ing)\s*$", before):
            kind = "6M"
        elif re.search(r"nine months\s+end(ed|ing)\s*$", before):
            kind = "9M"
        elif re.search(r"(fiscal\s+)?year\s+end(ed|ing)\s*$", before):
            kind = "FY"
        elif _INSTANT.search(before):
            kind = "instant"
        break
    if (q := _QUARTER.search(text)) is not None:
        number = _ORDINAL.get((q.group(1) or "").lower()) or int(q.group(3))
        fp = f"Q{number}"
        named_year = q.group(2) or q.group(4)
        if named_year:
            fy = _year(named_year)
    elif (mq := _MONTH_QUARTER.search(text)) is not None:
        month_name = mq.group(2) or mq.group(4)
        year_text = mq.group(3) or mq.group(5)
        quarter_month = (int(year_text), month_number(month_name) or 0)
    if fp is None and _HALF.search(text):
        fp = "6M"
    elif fp is None and _NINE.search(text):
        fp = "9M"
    if kind in ("Q", "6M", "9M", "FY") and fp is None and kind != "Q":
        fp = kind
    if fy is None and (f := _FISCAL_YEAR.search(text)) is not None:
        fy = _year(f.group(1))
    if fy is not None and fp is None and end is None and quarter_month is None:
        fp = "FY"
    if fy is None and end is None and quarter_month is None:
        bare = [int(y) for y in _BARE_YEAR.findall(text)]
        if bare:
            year = bare[-1]
    return AskedPeriod(
        fy=fy,
        fp=fp if fp else ("Q" if kind == "Q" else None),
        end=end,
        quarter_month=quarter_month,
        year=year,
        latest=bool(_LATEST.search(text)),
        annual=bool(_ANNUAL.search(text)) or kind == "FY",
        quarterly=bool(_QUARTERLY.search(text)) or kind == "Q" or (fp or "").startswith("Q"),
    )
