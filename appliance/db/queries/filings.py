"""Filings, their sections, and the submissions catalog (what EDGAR lists per company)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import scalar

__all__ = [
    "CatalogEntry",
    "FilingRow",
    "SectionInfo",
    "SectionRow",
    "catalog_entries",
    "catalog_entry",
    "count_filings",
    "filing",
    "filing_digest",
    "filing_sections",
    "list_filings",
    "save_filing",
    "section",
    "upsert_catalog",
]


@dataclass(frozen=True)
class CatalogEntry:
    accession: str
    cik: int | None
    form: str
    filing_date: str | None
    period_of_report: str | None
    acceptance_datetime: str | None
    primary_document: str | None
    description: str | None


@dataclass(frozen=True)
class FilingRow:
    accession: str
    cik: int | None
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    acceptance_datetime: str | None
    period_of_report: str | None
    primary_document: str | None
    url: str | None
    source_path: str | None
    source_format: str
    sha256: str
    char_count: int
    imported_at: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "accession": self.accession,
            "cik": self.cik,
            "ticker": self.ticker,
            "company": self.company,
            "form": self.form,
            "filing_date": self.filing_date,
            "acceptance_datetime": self.acceptance_datetime,
            "period_of_report": self.period_of_report,
            "primary_document": self.primary_document,
            "url": self.url,
            "char_count": self.char_count,
            "imported_at": self.imported_at,
        }


@dataclass(frozen=True)
class SectionInfo:
    id: int
    key: str
    item: str
    title: str
    ordinal: int
    char_count: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item": self.item,
            "title": self.title,
            "ordinal": self.ordinal,
            "char_count": self.char_count,
        }


@dataclass(frozen=True)
class SectionRow:
    info: SectionInfo
    accession: str
    text: str


_CATALOG_COLS = (
    "accession, cik, form, filing_date, period_of_report, acceptance_datetime,"
    " primary_document, description"
)
_FILING_COLS = (
    "accession, cik, ticker, company, form, filing_date, acceptance_datetime, period_of_report,"
    " primary_document, url, source_path, source_format, sha256, char_count, imported_at"
)
_SECTION_COLS = "id, key, item, title, ordinal, char_count"


def upsert_catalog(conn: Connection, entries: Iterable[CatalogEntry]) -> int:
    """Record catalog rows; a known field is never replaced by an unknown one."""
    cur = conn.executemany(
        f"INSERT INTO submissions ({_CATALOG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (accession) DO UPDATE SET"
        "  cik = COALESCE(excluded.cik, submissions.cik),"
        "  form = COALESCE(NULLIF(excluded.form, ''), submissions.form),"
        "  filing_date = COALESCE(excluded.filing_date, submissions.filing_date),"
        "  period_of_report = COALESCE(excluded.period_of_report, submissions.period_of_report),"
        "  acceptance_datetime ="
        "   COALESCE(excluded.acceptance_datetime, submissions.acceptance_datetime),"
        "  primary_document = COALESCE(excluded.primary_document, submissions.primary_document),"
        "  description = COALESCE(excluded.description, submissions.description)",
        (
            (
                e.accession,
                e.cik,
                e.form,
                e.filing_date,
                e.period_of_report,
                e.acceptance_datetime,
                e.primary_document,
                e.description,
            )
            for e in entries
        ),
    )
    return max(cur.rowcount, 0)


def catalog_entry(conn: Connection, accession: str) -> CatalogEntry | None:
    row = conn.execute(
        f"SELECT {_CATALOG_COLS} FROM submissions WHERE accession = ?", (accession,)
    ).fetchone()
    return None if row is None else CatalogEntry(*row)


def catalog_entries(
    conn: Connection, cik: int, forms: Sequence[str] = (), since: str | None = None
) -> list[CatalogEntry]:
    """A company's catalogued filings, newest first, optionally by form and filing date."""
    sql = f"SELECT {_CATALOG_COLS} FROM submissions WHERE cik = ?"
    args: list[Any] = [cik]
    if forms:
        sql += f" AND form IN ({', '.join('?' for _ in forms)})"
        args.extend(forms)
    if since:
        sql += " AND filing_date >= ?"
        args.append(since)
    sql += " ORDER BY filing_date DESC, accession DESC"
    return [CatalogEntry(*r) for r in conn.execute(sql, args).fetchall()]


def filing_digest(conn: Connection, accession: str) -> str | None:
    """The stored content hash of an imported filing, or None when it is not imported."""
    row = conn.execute("SELECT sha256 FROM filings WHERE accession = ?", (accession,)).fetchone()
    return None if row is None else str(row[0])


def save_filing(
    conn: Connection,
    row: FilingRow,
    sections: Sequence[tuple[str, str, int, str, str]],
    replace: bool = False,
) -> str:
    """Store a filing and its (item, title, ordinal, text, sha256) sections atomically.

    Returns "inserted", "replaced" or "exists" (already stored and ``replace`` is false). On
    replace, sections keep their ids when their item survives; vanished items are deleted.
    Run inside one transaction: a failure leaves no partial filing.
    """
    values = (
        row.accession,
        row.cik,
        row.ticker,
        row.company,
        row.form,
        row.filing_date,
        row.acceptance_datetime,
        row.period_of_report,
        row.primary_document,
        row.url,
        row.source_path,
        row.source_format,
        row.sha256,
        row.char_count,
    )
    cols = _FILING_COLS.rsplit(",", 1)[0]  # every column but imported_at
    inserted = conn.execute(
        f"INSERT INTO filings ({cols}) VALUES ({', '.join('?' for _ in values)})"
        " ON CONFLICT (accession) DO NOTHING",
        values,
    ).rowcount
    if not inserted:
        if not replace:
            return "exists"
        assignments = ", ".join(f"{c.strip()} = ?" for c in cols.split(",")[1:])
        conn.execute(
            f"UPDATE filings SET {assignments}, imported_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
            " WHERE accession = ?",
            (*values[1:], row.accession),
        )
    conn.executemany(
        "INSERT INTO sections (key, accession, item, title, ordinal, text, char_count, sha256)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET title = excluded.title, ordinal = excluded.ordinal,"
        "  text = excluded.text, char_count = excluded.char_count, sha256 = excluded.sha256",
        (
            (
                f"{row.accession}/{item}",
                row.accession,
                item,
                title,
                ordinal,
                text,
                len(text),
                digest,
            )
            for item, title, ordinal, text, digest in sections
        ),
    )
    if not inserted:
        keep = [item for item, *_ in sections]
        conn.execute(
            f"DELETE FROM sections WHERE accession = ? AND item NOT IN"
            f" ({', '.join('?' for _ in keep)})",
            (row.accession, *keep),
        )
        return "replaced"
    return "inserted"


def filing(conn: Connection, accession: str) -> FilingRow | None:
    row = conn.execute(
        f"SELECT {_FILING_COLS} FROM filings WHERE accession = ?", (accession,)
    ).fetchone()
    return None if row is None else FilingRow(*row)


def list_filings(
    conn: Connection,
    *,
    ticker: str | None = None,
    cik: int | None = None,
    forms: Sequence[str] = (),
    cutoff: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[FilingRow]:
    """Filings newest first. ``cutoff`` (ISO date) hides filings filed after that day."""
    sql = f"SELECT {_FILING_COLS} FROM filings WHERE 1 = 1"
    args: list[Any] = []
    if ticker:
        sql += " AND ticker = ?"
        args.append(ticker.upper())
    if cik is not None:
        sql += " AND cik = ?"
        args.append(cik)
    if forms:
        sql += f" AND form IN ({', '.join('?' for _ in forms)})"
        args.extend(forms)
    if cutoff:
        sql += " AND filing_date <= ?"
        args.append(cutoff)
    sql += " ORDER BY filing_date DESC, accession DESC LIMIT ? OFFSET ?"
    args.extend([limit, offset])
    return [FilingRow(*r) for r in conn.execute(sql, args).fetchall()]


def count_filings(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM filings"))


def filing_sections(conn: Connection, accession: str) -> list[SectionInfo]:
    rows = conn.execute(
        f"SELECT {_SECTION_COLS} FROM sections WHERE accession = ? ORDER BY ordinal",
        (accession,),
    ).fetchall()
    return [SectionInfo(*r) for r in rows]


def section(conn: Connection, accession: str, item: str) -> SectionRow | None:
    """One section by item code; codes match case-insensitively ("1a" finds "1A")."""
    row = conn.execute(
        f"SELECT {_SECTION_COLS}, accession, text FROM sections"
        " WHERE accession = ? AND upper(item) = upper(?)",
        (accession, item),
    ).fetchone()
    if row is None:
        return None
    values = tuple(row)
    return SectionRow(info=SectionInfo(*values[:6]), accession=values[6], text=values[7])
