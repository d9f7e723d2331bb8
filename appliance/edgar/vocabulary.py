"""The domain's words, defined once: form families, tickers, section codes, EDGAR addresses.

Every layer (the importer, retrieval, the API's validation, the CLI) spells these the same
way by importing them from here; a second definition drifts (two ``form_family`` functions
once disagreed on ``"10K"`` and ``"8-K"``, and three ticker patterns had three limits).
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "FORM_FAMILIES",
    "FULL_DOCUMENT_CODE",
    "PERIODIC_FAMILIES",
    "SEC_ARCHIVES",
    "TICKER_MAX",
    "TICKER_PATTERN",
    "QueryForm",
    "form_family",
    "is_section_code",
    "is_ticker",
    "item_label",
    "normalize_ticker",
    "periodic_family",
    "section_code",
]

# ----- forms -----

# The families retrieval tells apart; a form outside them is its own family.
FORM_FAMILIES = ("10-K", "10-Q", "8-K", "20-F", "40-F")
# The families whose documents are split into Items (catalogs in ``edgar.items``).
PERIODIC_FAMILIES = ("10-K", "10-Q")
# The forms a question may be restricted to (``POST /v1/qa/filings`` ``forms``).
QueryForm = Literal["10-K", "10-Q", "8-K", "10-K/A", "10-Q/A", "10-K405", "10-KT", "10-QT", "20-F"]

_UNDASHED = re.compile(r"^(10|8|20|40)(K|Q|F)")


def form_family(form: str) -> str:
    """``"10-K405"``, ``"10-K/A"``, ``"10-KT"``, ``"10K"`` -> ``"10-K"``; likewise ``"10-Q"``,
    ``"8-K"``, ``"20-F"``, ``"40-F"``; any other form upper-cased as it is."""
    f = form.strip().upper().replace(" ", "")
    f = _UNDASHED.sub(r"\1-\2", f)
    for family in FORM_FAMILIES:
        if f.startswith(family):
            return family
    return f


def periodic_family(form: str | None) -> str | None:
    """``"10-K"`` or ``"10-Q"`` for the forms split into Items, else None."""
    if not form:
        return None
    family = form_family(form)
    return family if family in PERIODIC_FAMILIES else None


# ----- tickers -----

TICKER_MAX = 16
# A ticker as the SEC's ticker files spell it (``BRK-B``, ``BF-A``), and as callers may send it
# in any case. Starting with a letter or digit also keeps it safe as a folder name (inbox).
TICKER_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9.\-]{{0,{TICKER_MAX - 1}}}$"
_TICKER = re.compile(TICKER_PATTERN)


def is_ticker(text: str) -> bool:
    return bool(_TICKER.match(text))


def normalize_ticker(text: str) -> str | None:
    """The stored form of a ticker (upper case, trimmed), or None when it is not one."""
    t = text.strip().upper()
    return t if _TICKER.match(t) else None


# ----- section codes -----

# The code of a filing kept whole (forms without an Item catalog).
FULL_DOCUMENT_CODE = "document"
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}


def is_section_code(code: str) -> bool:
    """A plausible stored section code: ``1A``, ``part2_item1a``, ``document``."""
    return 1 <= len(code) <= 24 and code.replace("_", "").isalnum()


def section_code(code: str) -> str:
    """A caller's section code as the importer stores it: ``document`` and 10-Q ``part*``
    codes lower-case (``part1_item2``), plain 10-K Item codes upper-case (``1A``)."""
    lowered = code.lower()
    return lowered if lowered == FULL_DOCUMENT_CODE or lowered.startswith("part") else code.upper()


def item_label(item: str) -> str:
    """'1A' -> 'Item 1A'; 'part2_item1a' -> 'Part II, Item 1A'; other codes as they are."""
    if item.startswith("part") and "_item" in item:
        part, number = item[4:].split("_item", 1)
        return f"Part {_ROMAN.get(part, part)}, Item {number.upper()}"
    if item[:1].isdigit():
        return f"Item {item}"
    return item.replace("_", " ").capitalize()


# ----- addresses -----

SEC_ARCHIVES = "https://www.sec.gov/Archives/edgar/data"
