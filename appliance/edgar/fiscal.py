"""A filer's fiscal calendar: which fiscal year and period a fact's dates fall in.

A filing states its own fiscal year and period (``dei:DocumentFiscalYearFocus`` 2025,
``dei:DocumentFiscalPeriodFocus`` FY) and its year-end day (``dei:CurrentFiscalYearEndDate``
``--09-27``), but most of its facts are about other periods: last year's column, the nine
months to date. Each fact gets the fiscal year and period its own dates fall in, so "fiscal
2025" finds the same numbers in the 10-K for 2025 and in the one for 2026.

Years of 52 or 53 weeks end on a weekday near the nominal day (Apple: the last Saturday of
September, so September 24 to 30), hence a week's tolerance. The year's number comes from the
filing itself, not from the calendar year the period ends in: a year ending January 26, 2025
is NVIDIA's fiscal 2025, while a retailer may call the year ending February 1, 2025 "fiscal
2024"; the offset between the two is read from the filing's own period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["FiscalCalendar", "FiscalPeriod"]

_TOLERANCE = timedelta(days=7)
_QUARTER_DAYS = 365.25 / 4
_MONTH_DAY = re.compile(r"^-*(\d{1,2})-(\d{1,2})$")
# Duration lengths (days) per kind of period, wide enough for 13- and 14-week quarters.
_LENGTHS = (
    ((350, 380), "FY"),
    ((80, 100), "Q"),
    ((170, 194), "6M"),
    ((260, 290), "9M"),
)


@dataclass(frozen=True, slots=True)
class FiscalPeriod:
    fy: int
    fp: str  # FY, Q1..Q4, 6M, 9M


@dataclass(frozen=True, slots=True)
class FiscalCalendar:
    month: int  # nominal fiscal year end
    day: int
    offset: int  # fiscal year number minus the calendar year of its nominal end

    @classmethod
    def from_filing(
        cls,
        fiscal_year: str | None,
        fiscal_period: str | None,
        period_end: str | None,
        year_end: str | None,
    ) -> FiscalCalendar | None:
        """From the filing's dei facts; None when it does not state enough."""
        end = _day(period_end)
        fp = (fiscal_period or "").strip().upper()
        try:
            fy = int((fiscal_year or "").strip()[:4])
        except ValueError:
            return None
        if end is None:
            return None
        month_day = _MONTH_DAY.match((year_end or "").strip())
        if month_day:
            month, day = int(month_day.group(1)), int(month_day.group(2))
        elif fp == "FY":
            month, day = end.month, end.day
        else:
            return None
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        probe = cls(month, min(day, 28) if month == 2 else day, 0)
        nominal = probe._year_end_after(end)
        if nominal is None:
            return None
        return cls(probe.month, probe.day, fy - nominal.year)

    def _nominal(self, year: int) -> date:
        day = self.day
        while True:
            try:
                return date(year, self.month, day)
            except ValueError:  # "--02-29", "--04-31"
                day -= 1

    def _year_end_after(self, when: date) -> date | None:
        """The nominal end of the fiscal year ``when`` falls in."""
        for year in (when.year - 1, when.year, when.year + 1):
            nominal = self._nominal(year)
            if when <= nominal + _TOLERANCE:
                return nominal
        return None

    def fiscal_year(self, when: date) -> int | None:
        nominal = self._year_end_after(when)
        return None if nominal is None else nominal.year + self.offset

    def _quarter(self, end: date) -> int | None:
        """The quarter (1-4) ending on ``end``, within the tolerance; None otherwise."""
        nominal = self._year_end_after(end)
        if nominal is None:
            return None
        previous = self._nominal(nominal.year - 1)
        position = (end - previous).days / _QUARTER_DAYS
        quarter = round(position)
        if not 1 <= quarter <= 4:
            return None
        if abs(position - quarter) * _QUARTER_DAYS > _TOLERANCE.days:
            return None
        return quarter

    def period(self, start: str | None, end: str) -> FiscalPeriod | None:
        """The fiscal period of a duration (``start`` to ``end``) or an instant (``end``)."""
        last = _day(end)
        if last is None:
            return None
        fy = self.fiscal_year(last)
        quarter = self._quarter(last)
        if fy is None or quarter is None:
            return None
        first = _day(start) if start else None
        if first is None:
            return FiscalPeriod(fy, "FY" if quarter == 4 else f"Q{quarter}")
        length = (last - first).days + 1
        for (low, high), kind in _LENGTHS:
            if low <= length <= high:
                if kind == "Q":
                    return FiscalPeriod(fy, f"Q{quarter}")
                if kind == "FY" and quarter != 4:
                    return None  # a twelve-month span not ending at the year end (TTM)
                if (kind == "6M" and quarter != 2) or (kind == "9M" and quarter != 3):
                    return None
                return FiscalPeriod(fy, kind)
        return None


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None
