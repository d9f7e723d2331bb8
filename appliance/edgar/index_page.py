"""EDGAR filing index pages (``.../{accession}-index.html``) as a metadata source.

The page states the form, filing date, acceptance time, period of report, the filer's CIK and
name, and lists the documents with their sequence and type; the primary document is the first
one whose type is the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import lxml.etree
import lxml.html

from appliance.edgar.blocks import normalize_text
from appliance.edgar.errors import InvalidFiling
from appliance.edgar.layout import format_accession

__all__ = ["IndexPage", "parse_index_page"]


@dataclass(frozen=True, slots=True)
class IndexPage:
    accession: str
    form: str | None
    filing_date: date | None
    acceptance_datetime: datetime | None
    period_of_report: date | None
    cik: int | None
    company: str | None
    primary_document: str | None


_FORM = re.compile(r"\bForm\s+([A-Z0-9][A-Z0-9\-/]*)\s+-")
_LABELLED_DATE = r"{label}\s+(\d{{4}}-\d{{2}}-\d{{2}})"
_ACCEPTED = re.compile(r"Accepted\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")
_FILER = re.compile(r"([^\n]+?)\s*\(Filer\)\s*CIK\s*:\s*(\d{1,10})")


def _labelled(text: str, label: str) -> date | None:
    m = re.search(_LABELLED_DATE.format(label=label), text)
    return date.fromisoformat(m.group(1)) if m else None


def _acceptance(value: str) -> datetime | None:
    stamp = datetime.fromisoformat(value)
    # Pre-2001 filings show midnight: EDGAR did not record the time.
    return None if stamp.hour == stamp.minute == stamp.second == 0 else stamp


def _visible_text(el: lxml.etree._Element) -> str:
    skip = {"script", "style", "noscript", "head"}
    parts: list[str] = []

    def walk(node: lxml.etree._Element) -> None:
        if isinstance(node.tag, str) and node.tag.lower() in skip:
            return
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return "".join(parts)


def parse_index_page(html: str) -> IndexPage:
    """Parse an index page. Raises InvalidFiling when it names no accession number."""
    parser = lxml.html.HTMLParser(recover=True, remove_comments=True)
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InvalidFiling(f"unreadable index page: {exc}") from None
    text = normalize_text(_visible_text(root))
    flat = re.sub(r"[ \t\r\f\v]+", " ", text)
    m = re.search(r"Accession No\.?\s*(\d{10}-\d{2}-\d{6})", flat)
    accession = format_accession(m.group(1)) if m else None
    if accession is None:
        raise InvalidFiling("index page names no accession number")
    form_match = _FORM.search(flat)
    form = form_match.group(1) if form_match else None
    accepted = _ACCEPTED.search(flat)
    filer = _FILER.search(re.sub(r"\s*\n\s*", "\n", flat))
    primary = None
    for table in root.iter("table"):
        if "tableFile" not in (table.get("class") or "") or primary is not None:
            continue
        for row in table.iter("tr"):
            cells = [normalize_text(_visible_text(c)).strip() for c in row if c.tag == "td"]
            if len(cells) >= 4 and cells[2] and form and cells[3].upper() == form.upper():
                primary = cells[2].split()[0]
                break
    return IndexPage(
        accession=accession,
        form=form,
        filing_date=_labelled(flat, "Filing Date"),
        acceptance_datetime=_acceptance(accepted.group(1)) if accepted else None,
        period_of_report=_labelled(flat, "Period of Report"),
        cik=int(filer.group(2)) if filer else None,
        company=filer.group(1).strip() if filer else None,
        primary_document=primary,
    )
