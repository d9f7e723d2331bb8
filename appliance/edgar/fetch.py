"""Online fetch: a ticker's submissions JSON and primary documents from EDGAR, then import.

Downloads are saved (gzipped) under ``<dest>/<TICKER>/<FORM>_<DATE>_<ACCESSION>.<ext>.gz``,
the same layout ``filings import`` reads, so a fetched corpus can be copied to an air-gapped
appliance and imported there unchanged.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import filings as fq
from appliance.db.queries import symbols as sq
from appliance.edgar.client import EdgarClient
from appliance.edgar.importer import DatabaseLike, FileOutcome, ImportReport, Store, import_paths
from appliance.edgar.importer import store_submissions as _store_submissions
from appliance.edgar.submissions import CompanySubmissions, parse_submissions
from appliance.edgar.symbols import parse_ticker_file, store_symbols
from appliance.errors import NotFound

__all__ = ["FetchReport", "fetch_filings"]


@dataclass
class FetchReport:
    ticker: str
    cik: int
    requests: int = 0
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # accessions already imported
    failed: list[FileOutcome] = field(default_factory=list)
    imported: ImportReport | None = None
    seconds: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "cik": self.cik,
            "requests": self.requests,
            "downloaded": self.downloaded,
            "already_imported": self.skipped,
            "failed": [f.public() for f in self.failed],
            "import": self.imported.public() if self.imported else None,
            "seconds": round(self.seconds, 3),
        }


def _resolve_cik(store: Store, client: EdgarClient, ticker: str, report: FetchReport) -> int:
    listed = store.read(sq.symbol, ticker)
    if listed is None and store.read(sq.count_symbols) == 0:
        # Empty symbol map: load the SEC's current one first.
        response = client.get(client.ticker_file_url(exchange=True))
        parsed = parse_ticker_file(response.body)
        store.write(store_symbols, parsed, response.url, date.today())
        listed = store.read(sq.symbol, ticker)
    if listed is None:
        raise NotFound(f"unknown ticker {ticker}: load a ticker map with `appliance symbols load`")
    return listed.cik


def _submissions(
    store: Store, client: EdgarClient, cik: int, since: date | None, report: FetchReport
) -> CompanySubmissions:
    response = client.get(client.submissions_url(cik))
    company = parse_submissions(response.body, cik)
    store.write(_store_submissions, company)
    oldest = min((r.filing_date for r in company.filings if r.filing_date), default=None)
    if since is not None and oldest is not None and since < oldest:
        # Older filings live in the pagination files.
        for page in company.pages:
            page_response = client.get(client.submissions_url(cik, page))
            store.write(_store_submissions, parse_submissions(page_response.body, cik))
    return company


def _file_name(form: str, filing_date: str, accession: str, document: str) -> str:
    suffix = Path(document).suffix.lower() or ".txt"
    return f"{form.replace('/', '-')}_{filing_date}_{accession}{suffix}.gz"


def fetch_filings(
    conn_or_db: Connection | DatabaseLike,
    client: EdgarClient,
    ticker: str,
    dest: Path,
    *,
    forms: Sequence[str] = ("10-K", "10-Q"),
    since: date | None = None,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FetchReport:
    """Download a ticker's filings of ``forms`` filed on or after ``since`` and import them.

    Raises NotFound for an unknown ticker and EdgarUnavailable when EDGAR cannot be reached
    (before anything is written); a document that fails to download is reported and skipped.
    """
    started = time.perf_counter()
    sent_before = client.requests_sent
    store = Store(conn_or_db)
    ticker = ticker.upper()
    report = FetchReport(ticker=ticker, cik=0)
    report.cik = cik = _resolve_cik(store, client, ticker, report)
    _submissions(store, client, cik, since, report)
    wanted = {f.upper() for f in forms}
    since_day = since.isoformat() if since else None
    entries = [
        e for e in store.read(fq.catalog_entries, cik, sorted(wanted), since_day) if e.filing_date
    ]
    folder = dest / ticker
    saved: list[Path] = []
    for entry in entries:
        if not replace and store.read(fq.filing_digest, entry.accession):
            report.skipped.append(entry.accession)
            continue
        document = entry.primary_document or f"{entry.accession}.txt"
        url = client.archives_url(cik, entry.accession, document)
        assert entry.filing_date is not None
        target = folder / _file_name(entry.form, entry.filing_date, entry.accession, document)
        try:
            response = client.get(url)
        except NotFound as exc:
            report.failed.append(FileOutcome(url, "failed", exc.message, entry.accession))
            continue
        if not response.body.strip():
            report.failed.append(FileOutcome(url, "failed", "empty document", entry.accession))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(gzip.compress(response.body, compresslevel=6))
        partial.replace(target)  # never leave a half-written file under the final name
        saved.append(target)
        report.downloaded.append(entry.accession)
        if progress:
            progress(f"downloaded {entry.form} {entry.filing_date} {entry.accession}")
    if saved:
        report.imported = import_paths(
            conn_or_db, saved, replace=replace, max_bytes=client.max_decompressed_bytes
        )
    report.requests = client.requests_sent - sent_before
    report.seconds = time.perf_counter() - started
    return report
