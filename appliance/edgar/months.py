"""Month names as filings spell them ("September", "Sept.", "sep"), to month numbers."""

from __future__ import annotations

__all__ = ["MONTHS", "MONTH_PATTERN", "month_number"]

_NAMES = (
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may",),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sep", "sept"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
)
MONTHS: dict[str, int] = {name: n for n, names in enumerate(_NAMES, start=1) for name in names}
# A month word in a regular expression (one group), longest spellings first.
MONTH_PATTERN = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"


def month_number(word: str) -> int | None:
    """1-12 for a month name or its abbreviation (any case, a trailing dot allowed)."""
    return MONTHS.get(word.strip().lower().rstrip("."))
