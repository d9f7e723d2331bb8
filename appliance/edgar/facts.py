"""A filing's inline-XBRL facts as rows to store: each with its Item, label, fiscal period and
the text around it.

The parser (:mod:`appliance.edgar.xbrl`) says in which blocks of visible text a fact is shown;
the section splitter says which blocks each Item owns. A fact shown several times (the income
statement and MD&A) is cited where the financial statements are, else where it is shown first.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from dataclasses import dataclass, field

from appliance.db.queries.facts import Extraction, FactRow
from appliance.edgar.blocks import Block
from appliance.edgar.fiscal import FiscalCalendar, FiscalPeriod
from appliance.edgar.sections import Section
from appliance.edgar.xbrl import Conflict, Context, Fact, InlineXbrl

__all__ = ["FilingFacts", "filing_facts", "humanize"]

# Where the statements are printed: 10-K Item 8 (or Item 15 when Item 8 only points there),
# 10-Q Part I Item 1.
_STATEMENT_ITEMS = ("8", "part1_item1", "15")
_CONTEXT_CHARS = 600
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_HAS_LETTER = re.compile(r"[A-Za-z]{2}")


@dataclass
class FilingFacts:
    rows: list[FactRow] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    duplicates: int = 0
    skipped: int = 0
    fiscal_year: int | None = None
    fiscal_period: str | None = None
    period_end: str | None = None

    def extraction(self, accession: str) -> Extraction:
        return Extraction(
            accession=accession,
            facts=len(self.rows),
            duplicates=self.duplicates,
            conflicts=len(self.conflicts),
            skipped=self.skipped,
            fiscal_year=self.fiscal_year,
            fiscal_period=self.fiscal_period,
            period_end=self.period_end,
        )


@functools.lru_cache(maxsize=4096)
def humanize(name: str) -> str:
    """``RevenueFromContractWithCustomer`` -> ``Revenue from contract with customer``."""
    words = _CAMEL.sub(" ", name.rsplit(":", 1)[-1]).split()
    if not words:
        return name
    return " ".join([words[0], *(w if w.isupper() else w.lower() for w in words[1:])])


class _Placer:
    """Block index -> section code, and the text around a block."""

    def __init__(self, blocks: list[Block], sections: list[Section]) -> None:
        self.blocks = blocks
        spans = sorted((start, stop, s.code) for s in sections for start, stop in s.spans)
        self._starts = [s[0] for s in spans]
        self._spans = spans

    def section(self, block: int) -> str | None:
        i = bisect.bisect_right(self._starts, block) - 1
        if i >= 0 and self._spans[i][0] <= block < self._spans[i][1]:
            return self._spans[i][2]
        return None

    def label(self, block: int) -> str | None:
        b = self.blocks[block] if 0 <= block < len(self.blocks) else None
        if b is None or not b.row:
            return None
        first = b.text.split(" | ", 1)[0].strip()
        return first if _HAS_LETTER.search(first) and len(first) <= 300 else None

    def context(self, block: int, shown: str) -> str:
        if not 0 <= block < len(self.blocks):
            return ""
        b = self.blocks[block]
        if not b.row:
            return _window(b.text, shown)
        # A table row: the table's title and header rows say what the numbers are.
        first = block
        while first > 0 and self.blocks[first - 1].row and self.blocks[first - 1].table == b.table:
            first -= 1
        parts = []
        if first > 0 and not self.blocks[first - 1].row:
            parts.append(self.blocks[first - 1].text[:200])
        parts.extend(self.blocks[k].text[:200] for k in range(first, min(first + 2, block)))
        parts.append(b.text)
        return "\n".join(parts)[-_CONTEXT_CHARS * 2 :]


def _window(text: str, shown: str) -> str:
    if len(text) <= _CONTEXT_CHARS:
        return text
    at = text.find(shown) if shown else -1
    if at < 0:
        return text[:_CONTEXT_CHARS]
    start = max(0, at - _CONTEXT_CHARS // 2)
    return text[start : start + _CONTEXT_CHARS]


def _dimensions(fact: Fact) -> str:
    if not fact.context.dimensions:
        return ""
    return json.dumps(dict(fact.context.dimensions), sort_keys=True, separators=(",", ":"))


def filing_facts(xbrl: InlineXbrl, blocks: list[Block], sections: list[Section]) -> FilingFacts:
    """Rows for every fact of the filing, with its Item, printed label and fiscal period."""
    calendar = FiscalCalendar.from_filing(
        xbrl.dei("DocumentFiscalYearFocus"),
        xbrl.dei("DocumentFiscalPeriodFocus"),
        xbrl.dei("DocumentPeriodEndDate"),
        xbrl.dei("CurrentFiscalYearEndDate"),
    )
    placer = _Placer(blocks, sections)
    out = FilingFacts(
        conflicts=list(xbrl.conflicts),
        duplicates=xbrl.duplicates,
        skipped=sum(xbrl.skipped.values()),
        period_end=xbrl.dei("DocumentPeriodEndDate"),
        fiscal_period=(xbrl.dei("DocumentFiscalPeriodFocus") or "").upper() or None,
    )
    fy_text = xbrl.dei("DocumentFiscalYearFocus") or ""
    out.fiscal_year = int(fy_text[:4]) if fy_text[:4].isdigit() else None
    # Many facts share a context: its fiscal period and dimensions are worked out once.
    periods: dict[Context, FiscalPeriod | None] = {}
    dimensions: dict[Context, str] = {}
    for fact in xbrl.facts:
        ctx = fact.context
        if ctx not in periods:
            periods[ctx] = calendar.period(ctx.start, ctx.end) if calendar else None
            dimensions[ctx] = _dimensions(fact)
        placed = [(placer.section(b), b) for b in fact.blocks]
        chosen = next(
            (p for code in _STATEMENT_ITEMS for p in placed if p[0] == code),
            placed[0] if placed else (None, -1),
        )
        section, block = chosen
        period = periods[ctx]
        out.rows.append(
            FactRow(
                concept=fact.concept,
                name=fact.concept.rsplit(":", 1)[-1],
                label=placer.label(block) or humanize(fact.concept),
                value=fact.value,
                numeric=fact.numeric,
                unit=fact.unit or "",
                decimals=fact.decimals,
                period_start=fact.context.start or "",
                period_end=fact.context.end,
                dimensions=dimensions[ctx],
                fy=period.fy if period else None,
                fp=period.fp if period else None,
                section=section,
                context=placer.context(block, fact.shown),
            )
        )
    return out
