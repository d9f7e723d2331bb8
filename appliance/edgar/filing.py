"""One filing file in, metadata and sections out: the pure half of an import.

:func:`parse_filing` accepts every shape a filing arrives in (an HTML/XHTML primary document,
the same document still in its SGML ``<DOCUMENT>`` wrapper, a full-submission ``.txt`` with or
without the PEM envelope, and tag-stripped text) and collects metadata from everything the
file itself states: the SEC header, inline-XBRL ``dei:`` facts, the cover page, and the path.
Metadata from outside the file (submissions JSON, index pages, the symbol map) is merged later
by the importer with :meth:`FilingMetadata.fill`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime

from appliance.edgar.blocks import Block, DeiFacts, html_blocks, plain_blocks
from appliance.edgar.errors import InvalidFiling
from appliance.edgar.facts import FilingFacts, filing_facts
from appliance.edgar.inflate import DEFAULT_MAX_BYTES, TooLarge, bounded
from appliance.edgar.layout import PathHints, format_accession
from appliance.edgar.months import month_number
from appliance.edgar.sections import Section, split_sections
from appliance.edgar.sgml import looks_like_submission, parse_submission
from appliance.edgar.vocabulary import FULL_DOCUMENT_CODE, normalize_ticker, periodic_family
from appliance.edgar.xbrl import extract_facts

__all__ = [
    "FULL_DOCUMENT_CODE",
    "FilingMetadata",
    "ParsedFiling",
    "decompress",
    "parse_filing",
]

# Section code used when a filing has no Item structure (8-K, or no heading found).
_MIN_TEXT_CHARS = 200
_HTML_HINT = re.compile(r"<(?:html|body|div|p|font|br|span)\b[^>]*>", re.IGNORECASE)
_FULL_HTML = re.compile(r"^\s*(?:<\?xml|<!doctype|<html)", re.IGNORECASE)
_LONG_DATE = re.compile(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})\s*,?\s*(\d{4})")
_PERIOD = re.compile(
    r"(?:fiscal\s+year\s+ended|quarterly\s+period\s+ended|period\s+ended|year\s+ended)"
    r"\s*:?\s*([A-Za-z]{3,9}\.?\s+\d{1,2}\s*,?\s*\d{4})",
    re.IGNORECASE,
)
_REGISTRANT = re.compile(r"exact\s+name\s+of\s+(?:the\s+)?registrant", re.IGNORECASE)
_COVER_BLOCKS = 80


@dataclass(frozen=True, slots=True)
class FilingMetadata:
    accession: str | None = None
    cik: int | None = None
    ticker: str | None = None
    company: str | None = None
    form: str | None = None
    filing_date: date | None = None
    acceptance_datetime: datetime | None = None  # EDGAR's clock (US Eastern), naive
    period_of_report: date | None = None
    primary_document: str | None = None

    def fill(self, other: FilingMetadata) -> FilingMetadata:
        """A copy with every missing field taken from ``other``."""
        changes = {
            f.name: getattr(other, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is None and getattr(other, f.name) is not None
        }
        return dataclasses.replace(self, **changes) if changes else self


@dataclass(frozen=True, slots=True)
class ParsedFiling:
    # What the filing states about itself (SEC header, inline-XBRL dei facts): authoritative.
    declared: FilingMetadata
    # What the path and the cover page suggest: used only where nothing better is known.
    inferred: FilingMetadata
    sections: list[Section]
    sha256: str  # of the (decompressed) file content
    source_format: str  # html | sgml-html | sgml-text | tag-stripped | text
    facts: FilingFacts | None = None  # inline-XBRL facts; None when the filing has none

    @property
    def metadata(self) -> FilingMetadata:
        return self.declared.fill(self.inferred)

    @property
    def char_count(self) -> int:
        return sum(s.char_count for s in self.sections)


def decompress(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Undo gzip when the bytes carry its magic number. Raises InvalidFiling if truncated or
    when it would expand past ``max_bytes``."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return bounded(data, max_bytes)
    except TooLarge as exc:
        raise InvalidFiling(str(exc)) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidFiling(f"corrupt or truncated gzip data: {exc}") from None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # EDGAR predates UTF-8 everywhere; Windows-1252 is what old filers' tools wrote.
        return data.decode("cp1252", errors="replace")


def _long_date(text: str) -> date | None:
    m = _LONG_DATE.search(text)
    if not m:
        return None
    month = month_number(m.group(1))
    if month is None:
        return None
    try:
        return date(int(m.group(3)), month, int(m.group(2)))
    except ValueError:
        return None


def _from_dei(dei: DeiFacts) -> FilingMetadata:
    cik = dei.get("dei:EntityCentralIndexKey")
    period = dei.get("dei:DocumentPeriodEndDate")
    ticker = dei.get("dei:TradingSymbol")
    return FilingMetadata(
        cik=int(cik) if cik and cik.isdigit() else None,
        company=dei.get("dei:EntityRegistrantName"),
        form=dei.get("dei:DocumentType"),
        period_of_report=_long_date(period) if period else None,
        ticker=normalize_ticker(ticker) if ticker else None,
    )


def _from_cover(blocks: list[Block]) -> FilingMetadata:
    """Company name and period from the cover page, for filings without XBRL or header."""
    company = None
    period = None
    cover = blocks[:_COVER_BLOCKS]
    for i, block in enumerate(cover):
        if company is None and _REGISTRANT.search(block.text) and i > 0:
            candidate = cover[i - 1].text.strip(" |")
            if 2 <= len(candidate) <= 120:
                company = candidate
        if period is None and (m := _PERIOD.search(block.text)):
            period = _long_date(m.group(1))
    return FilingMetadata(company=company, period_of_report=period)


def _from_hints(hints: PathHints) -> FilingMetadata:
    return FilingMetadata(
        accession=hints.accession,
        cik=hints.cik,
        ticker=hints.ticker,
        form=hints.form,
        filing_date=hints.filing_date,
    )


def _text_sections(blocks: list[Block], form: str | None, plain: bool) -> list[Section]:
    sections = split_sections(blocks, form, plain=plain)
    if sections:
        return sections
    text = "\n".join(b.text for b in blocks)
    title = f"Form {form}" if form else "Full document"
    spans = ((0, len(blocks)),)
    return [Section(code=FULL_DOCUMENT_CODE, title=title, ordinal=0, text=text, spans=spans)]


def parse_filing(
    data: bytes, hints: PathHints, max_bytes: int = DEFAULT_MAX_BYTES, *, facts: bool = True
) -> ParsedFiling:
    """Parse one filing file's bytes (gzip accepted). Raises InvalidFiling with the reason.

    The form used to choose the Item catalog comes from the file itself when it says (SEC
    header, ``dei:DocumentType``), else from the path. ``facts=False`` skips reading the
    inline XBRL (measured by the import benchmark).
    """
    data = decompress(data, max_bytes)
    if not data.strip():
        raise InvalidFiling("empty file")
    if b"\x00" in data[:65536]:
        raise InvalidFiling("binary data, not a filing document")
    sha256 = hashlib.sha256(data).hexdigest()
    text = _decode(data)
    meta = FilingMetadata()
    source_format = "html"
    content = text
    if looks_like_submission(text):
        submission = parse_submission(text)
        header = submission.header
        form_hint = header.form or hints.form
        main = submission.main_document(form_hint)
        if main is None:
            raise InvalidFiling("submission holds no documents")
        if not main.complete:
            raise InvalidFiling(f"truncated: the {main.type or 'main'} document is not closed")
        meta = FilingMetadata(
            accession=format_accession(header.accession) if header.accession else None,
            cik=int(header.cik) if header.cik else None,
            company=header.company,
            form=header.form,
            filing_date=header.filing_date,
            acceptance_datetime=header.acceptance_datetime,
            period_of_report=header.period_of_report,
            primary_document=main.filename,
        )
        content = main.text
        source_format = "tag-stripped" if submission.tag_stripped else "sgml"
    is_html = bool(_HTML_HINT.search(content[:200_000]))
    parsed_html = None
    if is_html:
        if _FULL_HTML.match(content) and not re.search(r"</html\s*>", content[-4096:], re.I):
            raise InvalidFiling("truncated HTML: the document has no closing </html>")
        parsed_html = html_blocks(content)
        blocks = parsed_html.blocks
        meta = meta.fill(_from_dei(parsed_html.dei))
        source_format = "sgml-html" if source_format == "sgml" else source_format
    else:
        blocks = plain_blocks(content)
        source_format = {"sgml": "sgml-text", "html": "text"}.get(source_format, source_format)
    if sum(len(b.text) for b in blocks) < _MIN_TEXT_CHARS:
        raise InvalidFiling("no readable text in the document")
    inferred = _from_hints(hints).fill(_from_cover(blocks))
    form = meta.form if periodic_family(meta.form) else (inferred.form or meta.form)
    sections = _text_sections(blocks, form, plain=not is_html)
    xbrl = extract_facts(parsed_html.root, parsed_html.anchors) if parsed_html and facts else None
    return ParsedFiling(
        declared=meta,
        inferred=inferred,
        sections=sections,
        sha256=sha256,
        source_format=source_format,
        facts=filing_facts(xbrl, blocks, sections) if xbrl else None,
    )
