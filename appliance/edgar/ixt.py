"""Inline XBRL transformation rules: the displayed text of a fact to its XBRL value.

A fact's ``format`` names a rule from the XBRL transformation registry (``ixt:``, versions 1
to 5 spell some names differently) or the SEC's own (``ixt-sec:``). Only the local name
matters: no two registries give one name two meanings. The rules here are the ones EDGAR
filers use; :class:`UnknownFormat` reports any other, so the fact is counted as skipped
rather than stored with a guessed value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from appliance.edgar.months import month_number

__all__ = ["NUMERIC", "UnknownFormat", "transform"]


class UnknownFormat(ValueError):
    """The format is not a rule this module knows, or the text does not fit the rule."""


_DIGITS_AND_POINT = re.compile(r"[^0-9.]")
_DIGITS_AND_COMMA = re.compile(r"[^0-9,]")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$|^\.\d+$")
_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen"
    " fourteen fifteen sixteen seventeen eighteen nineteen"
)
_UNITS = {w: n for n, w in enumerate(_UNIT_WORDS.split(" "))}
_TENS = {
    w: 10 * n
    for n, w in enumerate(
        ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
    )
    if n >= 2
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NONE_WORDS = frozenset({"no", "none", "nil", "zero"})


def _number(text: str) -> str:
    if not _NUMBER.match(text):
        raise UnknownFormat(f"not a number: {text!r}")
    return text


def num_dot_decimal(text: str) -> str:
    """``1,234.56`` (commas, spaces or dots grouping; the last dot is the decimal point)."""
    return _number(_DIGITS_AND_POINT.sub("", text.replace("\u00a0", " ")))


def num_comma_decimal(text: str) -> str:
    """``1.234,56``: the comma is the decimal point."""
    return _number(_DIGITS_AND_COMMA.sub("", text).replace(",", "."))


def fixed_zero(text: str) -> str:
    """A dash or other mark standing for zero."""
    return "0"


def num_words(text: str) -> str:
    """English number words (``ixt-sec:numwordsen``): "no", "none", "three", "twenty-one",
    "one hundred five", "5"."""
    cleaned = re.sub(r"[\s\-,]+", " ", text.lower().replace(" and ", " ")).strip()
    if cleaned in _NONE_WORDS:
        return "0"
    if re.fullmatch(r"[\d,]+(?:\.\d+)?", cleaned):
        return num_dot_decimal(cleaned)
    total = current = 0
    seen = False
    for word in cleaned.split():
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            raise UnknownFormat(f"not a number in words: {text!r}")
        seen = True
    if not seen:
        raise UnknownFormat(f"not a number in words: {text!r}")
    return str(total + current)


def _month(word: str) -> int:
    month = month_number(word)
    if month is None:
        raise UnknownFormat(f"not a month: {word!r}")
    return month


def _iso(year: int, month: int, day: int) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise UnknownFormat(f"not a date: {year}-{month}-{day}") from None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+|\d+", text)


def date_monthname_day_year(text: str) -> str:
    """``September 27, 2025``."""
    w = _words(text)
    if len(w) != 3:
        raise UnknownFormat(f"not a date: {text!r}")
    return _iso(_year(w[2]), _month(w[0]), int(w[1]))


def date_day_monthname_year(text: str) -> str:
    """``27 September 2025``."""
    w = _words(text)
    if len(w) != 3:
        raise UnknownFormat(f"not a date: {text!r}")
    return _iso(_year(w[2]), _month(w[1]), int(w[0]))


def date_month_day_year(text: str) -> str:
    """``09/27/2025``."""
    w = re.findall(r"\d+", text)
    if len(w) != 3:
        raise UnknownFormat(f"not a date: {text!r}")
    return _iso(_year(w[2]), int(w[0]), int(w[1]))


def date_year_month_day(text: str) -> str:
    """``2025-09-27`` or ``2025/09/27``."""
    w = re.findall(r"\d+", text)
    if len(w) != 3:
        raise UnknownFormat(f"not a date: {text!r}")
    return _iso(_year(w[0]), int(w[1]), int(w[2]))


def date_monthname_day(text: str) -> str:
    """``September 27`` -> ``--09-27`` (an XBRL gMonthDay)."""
    w = _words(text)
    if len(w) != 2:
        raise UnknownFormat(f"not a month and day: {text!r}")
    return f"--{_month(w[0]):02d}-{int(w[1]):02d}"


def date_month_day(text: str) -> str:
    """``12/31`` -> ``--12-31``."""
    w = re.findall(r"\d+", text)
    if len(w) != 2:
        raise UnknownFormat(f"not a month and day: {text!r}")
    return f"--{int(w[0]):02d}-{int(w[1]):02d}"


def date_monthname_year(text: str) -> str:
    """``December 2024`` -> ``2024-12`` (an XBRL gYearMonth)."""
    w = _words(text)
    if len(w) != 2:
        raise UnknownFormat(f"not a month and year: {text!r}")
    return f"{_year(w[1]):04d}-{_month(w[0]):02d}"


def _duration(designator: str) -> Callable[[str], str]:
    def rule(text: str) -> str:
        return f"P{num_words(text)}{designator}"

    return rule


_DURATION_UNITS = {"year": "Y", "month": "M", "week": "W", "day": "D"}


def duration_words(text: str) -> str:
    """``ixt-sec:durwordsen``: "three years", "one year and six months" -> P3Y, P1Y6M."""
    found = re.findall(r"([a-z0-9][a-z0-9\s\-]*?)\s*(year|month|week|day)s?\b", text.lower())
    if not found:
        raise UnknownFormat(f"not a duration in words: {text!r}")
    parts = []
    for amount, unit in found:
        amount = re.sub(r"^(?:and|,)\s*", "", amount.strip(" ,"))
        parts.append(f"{num_words(amount)}{_DURATION_UNITS[unit]}")
    return "P" + "".join(parts)


def boolean(value: str) -> Callable[[str], str]:
    return lambda text: value


def ballot_box(text: str) -> str:
    """A ticked box (☒ ☑ ✓ ✔ x) is true; an empty one is false."""
    mark = text.strip()
    if mark in ("\u2612", "\u2611", "\u2713", "\u2714", "x", "X"):
        return "true"
    if mark == "\u2610":
        return "false"
    raise UnknownFormat(f"not a ballot box: {text!r}")


# Local rule name -> function. Older registry spellings sit beside the current ones.
_RULES: dict[str, Callable[[str], str]] = {
    "num-dot-decimal": num_dot_decimal,
    "numdotdecimal": num_dot_decimal,
    "numcommadot": num_dot_decimal,
    "num-comma-decimal": num_comma_decimal,
    "numcommadecimal": num_comma_decimal,
    "numdotcomma": num_comma_decimal,
    "fixed-zero": fixed_zero,
    "zerodash": fixed_zero,
    "numdash": fixed_zero,
    "numwordsen": num_words,
    "num-word-en": num_words,
    "date-monthname-day-year-en": date_monthname_day_year,
    "datemonthnamedayyearen": date_monthname_day_year,
    "datemonthdayyearen": date_monthname_day_year,
    "datelongmonthdayyear": date_monthname_day_year,
    "dateshortmonthdayyear": date_monthname_day_year,
    "date-day-monthname-year-en": date_day_monthname_year,
    "datedaymonthnameyearen": date_day_monthname_year,
    "datedaymonthyearen": date_day_monthname_year,
    "datelongdaymonthyear": date_day_monthname_year,
    "dateshortdaymonthyear": date_day_monthname_year,
    "date-month-day-year": date_month_day_year,
    "datemonthdayyear": date_month_day_year,
    "dateslashus": date_month_day_year,
    "datedotus": date_month_day_year,
    "date-year-month-day": date_year_month_day,
    "dateyearmonthday": date_year_month_day,
    "date-monthname-day-en": date_monthname_day,
    "datemonthnamedayen": date_monthname_day,
    "datelongmonthday": date_monthname_day,
    "date-month-day": date_month_day,
    "datemonthday": date_month_day,
    "date-monthname-year-en": date_monthname_year,
    "datemonthnameyearen": date_monthname_year,
    "datelongmonthyear": date_monthname_year,
    "duryear": _duration("Y"),
    "durmonth": _duration("M"),
    "durday": _duration("D"),
    "durwordsen": duration_words,
    "fixed-true": boolean("true"),
    "booleantrue": boolean("true"),
    "fixed-false": boolean("false"),
    "booleanfalse": boolean("false"),
    "fixed-empty": lambda text: "",
    "boolballotbox": ballot_box,
}

# Rules whose result is a number (the only ones valid on ix:nonFraction).
NUMERIC = frozenset(
    {
        "num-dot-decimal",
        "numdotdecimal",
        "numcommadot",
        "num-comma-decimal",
        "numcommadecimal",
        "numdotcomma",
        "fixed-zero",
        "zerodash",
        "numdash",
        "numwordsen",
        "num-word-en",
    }
)


def transform(format_name: str | None, text: str) -> str:
    """The value of a fact displayed as ``text`` under the rule ``format_name`` (a QName
    such as ``ixt:num-dot-decimal``; None means the text is the value). Raises UnknownFormat.
    """
    text = text.strip()
    if not format_name:
        return text
    local = format_name.rsplit(":", 1)[-1].strip().lower()
    rule = _RULES.get(local)
    if rule is None:
        raise UnknownFormat(f"unsupported transformation {format_name!r}")
    return rule(text)


def local_name(format_name: str | None) -> str:
    return (format_name or "").rsplit(":", 1)[-1].strip().lower()
