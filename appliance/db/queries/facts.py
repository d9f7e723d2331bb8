"""Inline-XBRL facts of imported filings: store per filing, read by company and point in time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import row_fields

__all__ = [
    "Extraction",
    "FactRow",
    "StoredFact",
    "company_of",
    "extraction",
    "facts_for",
    "save_facts",
]


@dataclass(frozen=True)
class FactRow:
    """One fact as the importer stores it."""

    concept: str
    name: str
    label: str
    value: str
    numeric: bool
    unit: str
    decimals: str | None
    period_start: str  # '' for an instant
    period_end: str
    dimensions: str  # canonical JSON, '' for none
    fy: int | None
    fp: str | None
    section: str | None
    context: str


@dataclass(frozen=True)
class Extraction:
    accession: str
    facts: int
    duplicates: int
    conflicts: int
    skipped: int
    fiscal_year: int | None
    fiscal_period: str | None
    period_end: str | None
    extracted_at: str = ""


@dataclass(frozen=True)
class StoredFact:
    """A stored fact with its filing's metadata."""

    id: int
    accession: str
    cik: int | None
    concept: str
    name: str
    label: str
    value: str
    numeric: int
    unit: str
    decimals: str | None
    period_start: str
    period_end: str
    dimensions: str
    fy: int | None
    fp: str | None
    section: str | None
    context: str
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    url: str | None
    section_title: str | None

    @property
    def period(self) -> dict[str, str]:
        if self.period_start:
            return {"start": self.period_start, "end": self.period_end}
        return {"instant": self.period_end}

    def public(self) -> dict[str, Any]:
        return {
            "concept": self.concept,
            "label": self.label,
            "value": self.value,
            "unit": self.unit or None,
            "decimals": self.decimals,
            "period": self.period,
            "dimensions": json.loads(self.dimensions) if self.dimensions else {},
            "fy": self.fy,
            "fp": self.fp,
            "form": self.form,
            "accession": self.accession,
            "filing_date": self.filing_date,
            "section": self.section,
        }


_FACT_COLS = (
    "concept, name, label, value, numeric, unit, decimals, period_start, period_end,"
    " dimensions, fy, fp, section, context"
)


def save_facts(
    conn: Connection, accession: str, cik: int | None, rows: Sequence[FactRow], info: Extraction
) -> None:
    """Replace a filing's facts and its extraction record (idempotent: a re-import of the
    same filing leaves the same rows). Run inside the filing's transaction."""
    conn.execute("DELETE FROM facts WHERE accession = ?", (accession,))
    conn.executemany(
        f"INSERT INTO facts (accession, cik, {_FACT_COLS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                accession,
                cik,
                r.concept,
                r.name,
                r.label,
                r.value,
                int(r.numeric),
                r.unit,
                r.decimals,
                r.period_start,
                r.period_end,
                r.dimensions,
                r.fy,
                r.fp,
                r.section,
                r.context,
            )
            for r in rows
        ),
    )
    conn.execute(
        "INSERT INTO fact_extractions (accession, facts, duplicates, conflicts, skipped,"
        " fiscal_year, fiscal_period, period_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (accession) DO UPDATE SET facts = excluded.facts,"
        "  duplicates = excluded.duplicates, conflicts = excluded.conflicts,"
        "  skipped = excluded.skipped, fiscal_year = excluded.fiscal_year,"
        "  fiscal_period = excluded.fiscal_period, period_end = excluded.period_end,"
        "  extracted_at = strftime('%Y-%m-%dT%H:%M:%fZ')",
        (
            accession,
            info.facts,
            info.duplicates,
            info.conflicts,
            info.skipped,
            info.fiscal_year,
            info.fiscal_period,
            info.period_end,
        ),
    )


def extraction(conn: Connection, accession: str) -> Extraction | None:
    row = conn.execute(
        "SELECT accession, facts, duplicates, conflicts, skipped, fiscal_year, fiscal_period,"
        " period_end, extracted_at FROM fact_extractions WHERE accession = ?",
        (accession,),
    ).fetchone()
    return None if row is None else Extraction(*row)


def company_of(conn: Connection, ticker: str) -> tuple[int, str | None] | None:
    """(CIK, company name) for a ticker: from its imported filings, else the symbol map."""
    row = conn.execute(
        "SELECT cik, company FROM filings WHERE ticker = ? AND cik IS NOT NULL"
        " ORDER BY filing_date DESC LIMIT 1",
        (ticker.upper(),),
    ).fetchone()
    if row is not None:
        return int(row[0]), row[1]
    row = conn.execute(
        "SELECT cik, name FROM symbols WHERE ticker = ?", (ticker.upper(),)
    ).fetchone()
    return None if row is None else (int(row[0]), row[1])


def facts_for(
    conn: Connection,
    cik: int,
    *,
    names: Sequence[str] = (),
    concepts: Sequence[str] = (),
    words: Sequence[str] = (),
    fy: int | None = None,
    fp: str | None = None,
    form: str | None = None,
    cutoff: str | None = None,
    accession: str | None = None,
    dimensional: bool = False,
    numeric_only: bool = False,
    latest: bool = True,
    limit: int = 1000,
    offset: int = 0,
) -> list[StoredFact]:
    """A company's facts, newest period first.

    ``names`` match the concept's local name, ``concepts`` the full prefixed name (both
    case-insensitively); ``words`` must each occur in the printed label or the name. Only
    filings dated on or before ``cutoff`` count. With ``latest`` each fact (concept, period,
    dimensions, unit) comes once, with the newest such filing's value (a later restatement
    replaces the original) from the first filing that reported that value.
    """
    where = ["f.cik = ?"]
    args: list[Any] = [cik]
    if names or concepts:
        alternatives = []
        if names:
            alternatives.append(f"f.name COLLATE NOCASE IN ({', '.join('?' for _ in names)})")
            args.extend(names)
        if concepts:
            alternatives.append(f"f.concept COLLATE NOCASE IN ({', '.join('?' for _ in concepts)})")
            args.extend(concepts)
        where.append("(" + " OR ".join(alternatives) + ")")
    for word in words:
        where.append("(f.label LIKE ? OR f.name LIKE ?)")
        args.extend([f"%{word}%", f"%{word.replace(' ', '')}%"])
    if fy is not None:
        where.append("f.fy = ?")
        args.append(fy)
    if fp is not None:
        where.append("f.fp = ?")
        args.append(fp)
    if form:
        where.append("g.form = ?")
        args.append(form)
    if cutoff:
        where.append("g.filing_date <= ?")
        args.append(cutoff)
    if accession:
        where.append("f.accession = ?")
        args.append(accession)
    if not dimensional:
        where.append("f.dimensions = ''")
    if numeric_only:
        where.append("f.numeric = 1")
    key = "f.concept, f.period_start, f.period_end, f.dimensions, f.unit"
    # The value is the newest filing's; the fact cited is the first filing that reported that
    # same value (the 10-Q for its quarter, not next year's comparative column), so a later
    # filing is cited only when it changed the figure.
    rank = (
        f", first_value(f.value) OVER (PARTITION BY {key}"
        f"  ORDER BY g.filing_date DESC, g.accession DESC) AS latest_value,"
        f" row_number() OVER (PARTITION BY {key}, f.value"
        f"  ORDER BY g.filing_date ASC, g.accession ASC) AS first_report"
        if latest
        else ", f.value AS latest_value, 1 AS first_report"
    )
    sql = (
        f"SELECT * FROM (SELECT f.id, f.accession, f.cik, f.concept, f.name, f.label, f.value,"
        f" f.numeric, f.unit, f.decimals, f.period_start, f.period_end, f.dimensions, f.fy,"
        f" f.fp, f.section, f.context, g.ticker, g.company, g.form, g.filing_date, g.url,"
        f" (SELECT s.title FROM sections s WHERE s.accession = f.accession"
        f"  AND s.item = f.section) AS section_title{rank}"
        f" FROM facts f JOIN filings g ON g.accession = f.accession"
        f" WHERE {' AND '.join(where)})"
        " WHERE value = latest_value AND first_report = 1"
        " ORDER BY period_end DESC, period_start ASC, concept, dimensions, filing_date DESC"
        " LIMIT ? OFFSET ?"
    )
    args.extend([limit, offset])
    rows = conn.execute(sql, args).fetchall()
    out = []
    for row in rows:
        fields = row_fields(row)
        fields.pop("latest_value", None)
        fields.pop("first_report", None)
        out.append(StoredFact(**fields))
    return out
