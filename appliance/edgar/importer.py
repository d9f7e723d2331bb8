"""Offline import: files and directories in, filings with metadata and sections stored.

:func:`import_paths` is the library entry point used by ``appliance filings import``, the
online fetch and the background indexer. Every file is handled on its own: a broken file is
reported with its path and reason and the rest carry on; each filing is written in one
transaction, so none is ever half-stored. Metadata files (submissions JSON, EDGAR index pages)
are read first, wherever they sit among the paths, so the filings can use them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from appliance.db.connection import Connection, transaction
from appliance.db.queries import facts as xq
from appliance.db.queries import filings as fq
from appliance.db.queries import symbols as sq
from appliance.edgar.errors import InvalidFiling
from appliance.edgar.facts import FilingFacts
from appliance.edgar.filing import FilingMetadata, ParsedFiling, decompress, parse_filing
from appliance.edgar.index_page import parse_index_page
from appliance.edgar.inflate import DEFAULT_MAX_BYTES
from appliance.edgar.layout import PathHints, archives_url, hints_for
from appliance.edgar.submissions import CompanySubmissions, parse_submissions
from appliance.edgar.vocabulary import SEC_ARCHIVES

__all__ = [
    "DatabaseLike",
    "FileOutcome",
    "ImportReport",
    "Store",
    "import_paths",
    "store_submissions",
]

log = logging.getLogger("appliance.edgar")
T = TypeVar("T")

# Stored URLs always name the public archive, whatever mirror a fetch used.


class DatabaseLike(Protocol):
    def write_sync(self, fn: Callable[..., T], *args: Any) -> T: ...
    def read_sync(self, fn: Callable[..., T], *args: Any) -> T: ...


class Store:
    """Runs write functions in their own transaction on a connection or a Database."""

    def __init__(self, target: Connection | DatabaseLike) -> None:
        self._target = target

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        if hasattr(self._target, "write_sync"):
            return self._target.write_sync(fn, *args)
        with transaction(self._target):
            return fn(self._target, *args)

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        if hasattr(self._target, "read_sync"):
            return self._target.read_sync(fn, *args)
        return fn(self._target, *args)


@dataclass
class FileOutcome:
    path: str
    status: str  # imported | replaced | unchanged | metadata | failed | skipped
    reason: str | None = None
    accession: str | None = None
    ticker: str | None = None
    form: str | None = None
    filing_date: str | None = None
    sections: list[tuple[str, int]] = field(default_factory=list)  # (item, characters)
    seconds: float = 0.0
    facts: int | None = None  # inline-XBRL facts stored (0: the filing has none)
    fact_conflicts: int = 0  # inconsistent duplicate facts (one kept each)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        for name in ("reason", "accession", "ticker", "form", "filing_date"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.sections:
            out["sections"] = [{"item": i, "chars": n} for i, n in self.sections]
        if self.facts is not None:
            out["facts"] = self.facts
            out["fact_conflicts"] = self.fact_conflicts
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class ImportReport:
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def by_status(self, status: str) -> list[FileOutcome]:
        return [f for f in self.files if f.status == status]

    @property
    def imported(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status in ("imported", "replaced")]

    @property
    def failed(self) -> list[FileOutcome]:
        return self.by_status("failed")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def public(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "files": [f.public() for f in self.files],
        }


_FILING_SUFFIXES = (".htm", ".html", ".xhtml", ".txt")


def _expand(paths: Iterable[Path | str]) -> Iterator[tuple[Path, bool]]:
    """Every file under the given paths; the flag says whether it was named explicitly."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield child, False
        else:
            yield path, True


def store_submissions(conn: Connection, company: CompanySubmissions) -> int:
    """Write function: record a submissions file's filings and company names."""
    entries = [
        fq.CatalogEntry(
            accession=r.accession,
            cik=r.cik,
            form=r.form,
            filing_date=r.filing_date.isoformat() if r.filing_date else None,
            period_of_report=r.period_of_report.isoformat() if r.period_of_report else None,
            acceptance_datetime=(
                r.acceptance_datetime.isoformat() if r.acceptance_datetime else None
            ),
            primary_document=r.primary_document,
            description=r.description,
        )
        for r in company.filings
    ]
    changed = fq.upsert_catalog(conn, entries)
    if company.cik is not None and company.name:
        sq.upsert_companies(conn, [(company.cik, company.name)])
        sq.replace_company_names(
            conn,
            company.cik,
            [
                (name, start.isoformat() if start else None, end.isoformat() if end else None)
                for name, start, end in company.former_names
            ],
        )
    return changed


def _resolve(conn: Connection, parsed: ParsedFiling) -> FilingMetadata:
    """Merge what the file states with the catalog, the path, and the symbol map."""
    meta = parsed.declared
    accession = meta.accession or parsed.inferred.accession
    if accession:
        entry = fq.catalog_entry(conn, accession)
        if entry is not None:
            meta = meta.fill(
                FilingMetadata(
                    accession=entry.accession,
                    cik=entry.cik,
                    form=entry.form or None,
                    filing_date=_day(entry.filing_date),
                    acceptance_datetime=_stamp(entry.acceptance_datetime),
                    period_of_report=_day(entry.period_of_report),
                    primary_document=entry.primary_document,
                )
            )
    meta = meta.fill(parsed.inferred)
    if meta.ticker and meta.cik is not None:
        listed = sq.symbol(conn, meta.ticker)
        if listed is not None and listed.cik != meta.cik:
            meta = _replace(meta, ticker=None)  # a folder name that is not this filer's ticker
    if meta.cik is None and meta.ticker:
        listed = sq.symbol(conn, meta.ticker)
        if listed is not None:
            meta = _replace(meta, cik=listed.cik)
    if meta.ticker is None and meta.cik is not None:
        tickers = sq.tickers_for_cik(conn, meta.cik)
        if tickers:
            meta = _replace(meta, ticker=tickers[0].ticker)
    if meta.cik is not None and meta.filing_date is not None:
        # A former name in force on the filing date beats today's name (point in time).
        former = sq.company_name_at(conn, meta.cik, meta.filing_date.isoformat())
        if meta.company is None or (former and parsed.declared.company is None):
            meta = _replace(meta, company=former or meta.company)
    if meta.company is None and meta.cik is not None:
        meta = _replace(meta, company=sq.company_name(conn, meta.cik))
    return meta


def _replace(meta: FilingMetadata, **changes: Any) -> FilingMetadata:
    return dataclasses.replace(meta, **changes)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _url(meta: FilingMetadata, source_format: str) -> str | None:
    if meta.cik is None or meta.accession is None:
        return None
    if meta.primary_document:
        return archives_url(SEC_ARCHIVES, meta.cik, meta.accession, meta.primary_document)
    if source_format in ("sgml-text", "sgml-html", "tag-stripped"):
        # The file is (derived from) the complete submission text file.
        return archives_url(SEC_ARCHIVES, meta.cik, meta.accession, f"{meta.accession}.txt")
    return archives_url(SEC_ARCHIVES, meta.cik, meta.accession, None)


def _import_metadata(store: Store, path: Path, hints: PathHints, max_bytes: int) -> FileOutcome:
    data = decompress(path.read_bytes(), max_bytes)
    if hints.kind == "submissions":
        company = parse_submissions(data, hints.cik)
        store.write(store_submissions, company)
        return FileOutcome(
            str(path), "metadata", reason=f"submissions: {len(company.filings)} filings listed"
        )
    page = parse_index_page(data.decode("utf-8", errors="replace"))
    entry = fq.CatalogEntry(
        accession=page.accession,
        cik=page.cik,
        form=page.form or "",
        filing_date=page.filing_date.isoformat() if page.filing_date else None,
        period_of_report=page.period_of_report.isoformat() if page.period_of_report else None,
        acceptance_datetime=(
            page.acceptance_datetime.isoformat() if page.acceptance_datetime else None
        ),
        primary_document=page.primary_document,
        description=None,
    )
    store.write(fq.upsert_catalog, [entry])
    if page.cik is not None and page.company:
        # The index page shows the filer's name at filing time; keep today's name if known.
        store.write(_remember_company, page.cik, page.company)
    return FileOutcome(str(path), "metadata", reason="index page", accession=page.accession)


def _remember_company(conn: Connection, cik: int, name: str) -> None:
    if sq.company_name(conn, cik) is None:
        sq.upsert_companies(conn, [(cik, name)])


def _save(
    conn: Connection,
    row: fq.FilingRow,
    sections: list[tuple[str, str, int, str, str]],
    replace: bool,
    facts: FilingFacts | None,
    extract: bool,
) -> str:
    """Write function: the filing, its sections and its facts in one transaction."""
    result = fq.save_filing(conn, row, sections, replace)
    if result != "exists" and extract:
        found = facts or FilingFacts()
        xq.save_facts(conn, row.accession, row.cik, found.rows, found.extraction(row.accession))
    return result


def _save_facts(conn: Connection, accession: str, facts: FilingFacts) -> None:
    stored = fq.filing(conn, accession)
    cik = stored.cik if stored else None
    xq.save_facts(conn, accession, cik, facts.rows, facts.extraction(accession))


def _add_facts(
    store: Store,
    path: Path,
    hints: PathHints,
    accession: str,
    max_bytes: int,
    found: FilingFacts | None = None,
) -> FileOutcome:
    """A filing stored before facts were extracted at import: read and store its facts."""
    if found is None:
        found = parse_filing(path.read_bytes(), hints, max_bytes).facts or FilingFacts()
    store.write(_save_facts, accession, found)
    return FileOutcome(
        str(path),
        "unchanged",
        reason="already imported; facts extracted",
        accession=accession,
        facts=len(found.rows),
        fact_conflicts=len(found.conflicts),
    )


def _import_filing(
    store: Store,
    path: Path,
    hints: PathHints,
    replace: bool,
    max_bytes: int,
    extract: bool = True,
) -> FileOutcome:
    started = time.perf_counter()
    if hints.accession and not replace and store.read(fq.filing_digest, hints.accession):
        if extract and store.read(xq.extraction, hints.accession) is None:
            return _add_facts(store, path, hints, hints.accession, max_bytes)
        return FileOutcome(
            str(path), "unchanged", reason="already imported", accession=hints.accession
        )
    parsed = parse_filing(path.read_bytes(), hints, max_bytes, facts=extract)
    meta = store.read(_resolve, parsed)
    missing = [
        name
        for name, value in (
            ("accession number", meta.accession),
            ("form", meta.form),
            ("filing date", meta.filing_date),
        )
        if value is None
    ]
    if missing:
        raise InvalidFiling(f"cannot tell the filing's {', '.join(missing)}")
    assert meta.accession is not None and meta.form is not None and meta.filing_date is not None
    row = fq.FilingRow(
        accession=meta.accession,
        cik=meta.cik,
        ticker=meta.ticker,
        company=meta.company,
        form=meta.form,
        filing_date=meta.filing_date.isoformat(),
        acceptance_datetime=(
            meta.acceptance_datetime.isoformat() if meta.acceptance_datetime else None
        ),
        period_of_report=meta.period_of_report.isoformat() if meta.period_of_report else None,
        primary_document=meta.primary_document,
        url=_url(meta, parsed.source_format),
        source_path=str(path),
        source_format=parsed.source_format,
        sha256=parsed.sha256,
        char_count=parsed.char_count,
    )
    sections = [
        (s.code, s.title, s.ordinal, s.text, hashlib.sha256(s.text.encode()).hexdigest())
        for s in parsed.sections
    ]
    result = store.write(_save, row, sections, replace, parsed.facts, extract)
    status = {"inserted": "imported", "replaced": "replaced", "exists": "unchanged"}[result]
    if status == "unchanged" and extract and store.read(xq.extraction, row.accession) is None:
        return _add_facts(
            store, path, hints, row.accession, max_bytes, parsed.facts or FilingFacts()
        )
    stored = parsed.facts or FilingFacts()
    if stored.conflicts and status != "unchanged":
        # One value of each is kept (the most precise); which ones disagreed is worth a look.
        log.warning(
            "%s: %d inconsistent duplicate facts, e.g. %s",
            row.accession,
            len(stored.conflicts),
            "; ".join(
                f"{c.concept} {c.period}: {' vs '.join(c.values)}" for c in stored.conflicts[:3]
            ),
        )
    return FileOutcome(
        str(path),
        status,
        reason="already imported" if status == "unchanged" else None,
        accession=row.accession,
        ticker=row.ticker,
        form=row.form,
        filing_date=row.filing_date,
        sections=[(s.code, s.char_count) for s in parsed.sections],
        seconds=time.perf_counter() - started,
        facts=len(stored.rows) if extract and status != "unchanged" else None,
        fact_conflicts=len(stored.conflicts) if status != "unchanged" else 0,
    )


def import_paths(
    conn_or_db: Connection | DatabaseLike,
    paths: Sequence[Path | str],
    replace: bool = False,
    *,
    progress: Callable[[FileOutcome], None] | None = None,
    facts: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportReport:
    """Import filings (and the metadata files among them) from files and directories.
    A file that decompresses past ``max_bytes`` fails (the others are imported).

    ``conn_or_db`` is a DB-API connection (each filing gets its own transaction) or the app's
    :class:`~appliance.db.database.Database` (writes go through its writer thread). Files in
    directories that are neither filings nor metadata are ignored; a file named explicitly
    that cannot be imported is reported as failed. Never raises for a bad file.
    ``facts=False`` skips inline-XBRL extraction (the import benchmark's baseline).
    """
    started = time.perf_counter()
    store = Store(conn_or_db)
    report = ImportReport()
    metadata, filings, refused = _classify(paths)
    for outcome in refused:
        report.files.append(outcome)
        if progress:
            progress(outcome)
    for path, hints in metadata:
        outcome = _guard(path, functools.partial(_import_metadata, store, path, hints, max_bytes))
        report.files.append(outcome)
        if progress:
            progress(outcome)
    for path, hints in filings:
        outcome = _guard(
            path,
            functools.partial(_import_filing, store, path, hints, replace, max_bytes, facts),
        )
        report.files.append(outcome)
        if progress:
            progress(outcome)
    report.seconds = time.perf_counter() - started
    return report


Planned = list[tuple[Path, PathHints]]


def _classify(paths: Sequence[Path | str]) -> tuple[Planned, Planned, list[FileOutcome]]:
    """The metadata files, the filings, and the outcomes of files named explicitly that
    cannot be imported (files in directories that are neither are ignored)."""
    metadata: Planned = []
    filings: Planned = []
    refused: list[FileOutcome] = []
    for path, explicit in _expand(paths):
        hints = hints_for(path)
        name = path.name.lower().removesuffix(".gz")
        if hints.kind in ("submissions", "index"):
            metadata.append((path, hints))
        elif hints.kind == "filing" and name.endswith(_FILING_SUFFIXES):
            filings.append((path, hints))
        elif explicit:
            reason = (
                "a ticker file: load it with `appliance symbols load`"
                if hints.kind == "symbols"
                else "not a filing, submissions JSON or index page"
            )
            outcome = FileOutcome(str(path), "skipped" if path.exists() else "failed", reason)
            if not path.exists():
                outcome.reason = "no such file"
            refused.append(outcome)
    return metadata, filings, refused


def planned_files(paths: Sequence[Path | str]) -> list[Path]:
    """The files :func:`import_paths` will report on, for progress totals."""
    metadata, filings, refused = _classify(paths)
    return [p for p, _ in metadata + filings] + [Path(o.path) for o in refused]


def _guard(path: Path, work: Callable[[], FileOutcome]) -> FileOutcome:
    """Run one file's import; any failure becomes a reported, skipped file."""
    started = time.perf_counter()
    try:
        outcome = work()
    except InvalidFiling as exc:
        outcome = FileOutcome(str(path), "failed", exc.message)
    except OSError as exc:
        outcome = FileOutcome(str(path), "failed", f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not stop the other files
        log.exception("import of %s failed", path)
        outcome = FileOutcome(str(path), "failed", f"internal error: {type(exc).__name__}: {exc}")
    if not outcome.seconds:
        outcome.seconds = time.perf_counter() - started
    return outcome
