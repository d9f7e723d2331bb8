"""What a file's path says about it: the naming conventions an import understands.

- the shared layout ``<TICKER or CIK##########>/<FORM>_<FILING-DATE>_<ACCESSION>.<htm|html|txt>``
  (optionally ``.tagstripped.txt`` and/or ``.gz``), with ``<FORM>-index_...html`` for EDGAR
  filing index pages;
- EDGAR's own names: ``<ACCESSION>.txt`` full submissions, ``CIK##########.json`` submissions
  and their ``CIK##########-submissions-NNN.json`` pages;
- downloader trees such as ``<TICKER>/<FORM>/<ACCESSION>/full-submission.txt``.

Also the sec.gov Archives URL patterns, since a stored filing records where it lives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Literal

__all__ = [
    "PathHints",
    "archives_url",
    "format_accession",
    "hints_for",
    "is_compressed",
]

Kind = Literal["filing", "index", "submissions", "symbols", "other"]

_ACCESSION = re.compile(r"(?<!\d)(\d{10})-?(\d{2})-?(\d{6})(?!\d)")
_SHARED_NAME = re.compile(
    r"^(?P<form>[A-Za-z0-9][A-Za-z0-9\-]*?)(?P<index>-index)?_(?P<date>\d{4}-\d{2}-\d{2})_"
    r"(?P<acc>\d{10}-\d{2}-\d{6})(?:\.|$)"
)
_SUBMISSIONS = re.compile(r"^CIK(?P<cik>\d{10})(?:-submissions-\d{3})?\.json$", re.IGNORECASE)
_CIK_DIR = re.compile(r"^CIK(?P<cik>\d{1,10})$", re.IGNORECASE)
_TICKER_DIR = re.compile(r"^[A-Z][A-Z0-9]{0,5}(?:[.\-][A-Z0-9]{1,3})?$")
_FORM_DIR = re.compile(r"^(?:10-K|10-Q|8-K|20-F|40-F|10-KT|10-QT|10-K405)(?:_A|-A)?$", re.I)
_SUFFIXES = (".gz", ".txt", ".htm", ".html", ".xhtml", ".xml", ".json")


@dataclass(frozen=True, slots=True)
class PathHints:
    kind: Kind
    accession: str | None = None
    cik: int | None = None
    ticker: str | None = None
    form: str | None = None
    filing_date: date | None = None
    tag_stripped: bool = False


def format_accession(text: str) -> str | None:
    """``0000320193-24-000123`` from either the dashed or the 18-digit form, else None."""
    m = _ACCESSION.search(text)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def is_compressed(path: PurePath) -> bool:
    return path.suffix.lower() == ".gz"


def _form_from_token(token: str) -> str:
    form = token.upper()
    # "/" cannot appear in a file name: amendments are written 10-K-A or 10-K_A.
    if form.endswith("-A") and len(form) > 4:
        form = form[:-2] + "/A"
    return form


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def hints_for(path: PurePath) -> PathHints:
    """Read what the file name and its parent directories say (never touches the disk)."""
    name = path.name
    lowered = name.lower()
    if is_compressed(path):
        name = name[:-3]
        lowered = lowered[:-3]
    if m := _SUBMISSIONS.match(name):
        return PathHints(kind="submissions", cik=int(m.group("cik")))
    if lowered.startswith("company_tickers") and lowered.endswith(".json"):
        return PathHints(kind="symbols")
    if not lowered.endswith(_SUFFIXES):
        return PathHints(kind="other")

    cik: int | None = None
    ticker: str | None = None
    form: str | None = None
    accession: str | None = None
    for parent in reversed(path.parents[:4] if len(path.parents) >= 4 else path.parents):
        part = parent.name
        if not part:
            continue
        if m := _CIK_DIR.match(part):
            cik = int(m.group("cik"))
        elif _FORM_DIR.match(part):
            form = _form_from_token(part.replace("_", "-"))
        elif _TICKER_DIR.match(part):
            ticker = part
        elif acc := format_accession(part):
            accession = acc

    tag_stripped = ".tagstripped." in lowered
    if m := _SHARED_NAME.match(name):
        kind: Kind = "index" if m.group("index") else "filing"
        return PathHints(
            kind=kind,
            accession=m.group("acc"),
            cik=cik,
            ticker=ticker,
            form=_form_from_token(m.group("form")),
            filing_date=_parse_date(m.group("date")),
            tag_stripped=tag_stripped,
        )
    if "-index" in lowered and lowered.endswith((".htm", ".html")):
        return PathHints(kind="index", accession=format_accession(name), cik=cik, ticker=ticker)
    return PathHints(
        kind="filing",
        accession=format_accession(name) or accession,
        cik=cik,
        ticker=ticker,
        form=form,
        tag_stripped=tag_stripped,
    )


def archives_url(base: str, cik: int, accession: str, document: str | None) -> str:
    """The sec.gov Archives address of a filing's document, or of its index page.

    ``base`` is the Archives root, normally ``https://www.sec.gov/Archives/edgar/data``.
    """
    folder = f"{base.rstrip('/')}/{cik}/{accession.replace('-', '')}"
    if document:
        return f"{folder}/{document}"
    return f"{folder}/{accession}-index.html"
