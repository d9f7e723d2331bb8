"""Where the index worker gets a ticker's filings: EDGAR when online fetch is configured
(``edgar_user_agent`` set), else the offline inbox ``<data_dir>/inbox/<TICKER>/``.

Either way the files go through the EDGAR importer (which skips filings already imported),
and the job then indexes every imported filing of that company, so a ticker whose filings
were imported earlier (the bundled sample, ``appliance filings import``) is indexed too.
"""

from __future__ import annotations

from pathlib import Path

from appliance.db.database import Database
from appliance.db.queries import filings as fq
from appliance.edgar.client import EdgarClient
from appliance.edgar.fetch import fetch_filings
from appliance.edgar.importer import import_paths
from appliance.edgar.vocabulary import normalize_ticker
from appliance.rag.worker import Acquire, Acquired, JobContext, NothingToIndex
from appliance.settings import Settings

__all__ = ["acquire_for", "company_accessions", "inbox_dir"]


def inbox_dir(settings: Settings, ticker: str) -> Path:
    """The offline inbox of one ticker: files dropped there are imported by its next job.
    Raises ValueError for anything but a ticker (never a path outside the inbox)."""
    normal = normalize_ticker(ticker)
    if normal is None:
        raise ValueError(f"not a ticker: {ticker!r}")
    return settings.data_dir / "inbox" / normal


def company_accessions(conn: object, ticker: str, cik: int | None) -> list[str]:
    rows = fq.list_filings(conn, cik=cik, limit=100_000) if cik is not None else []
    rows += fq.list_filings(conn, ticker=ticker, limit=100_000)
    return sorted({r.accession for r in rows})


def acquire_for(settings: Settings, db: Database) -> Acquire:
    """The job's "get this ticker's filings" step, bound to the app's settings and database."""

    def acquire(ctx: JobContext) -> Acquired:
        ticker = ctx.job.ticker
        failures: list[str] = []
        if settings.edgar_user_agent:
            ctx.report("fetching")
            client = EdgarClient.from_settings(settings)
            report = fetch_filings(db, client, ticker, settings.data_dir / "filings")
            failures = [f"{f.accession or f.path}: {f.reason}" for f in report.failed]
            source = "edgar"
            cik: int | None = report.cik
        else:
            ctx.report("importing")
            inbox = inbox_dir(settings, ticker)
            if inbox.is_dir():
                imported = import_paths(db, [inbox], max_bytes=settings.max_decompressed_bytes)
                failures = [f"{f.path}: {f.reason}" for f in imported.failed]
            source = "inbox"
            cik = ctx.job.cik
        accessions = db.read_sync(company_accessions, ticker, cik)
        if not accessions:
            raise NothingToIndex(_nothing_found(settings, ticker, source, failures))
        return Acquired(source=source, accessions=accessions, failures=failures)

    return acquire


def _nothing_found(settings: Settings, ticker: str, source: str, failures: list[str]) -> str:
    """What to do when a ticker job finds no filings (it fails with this message)."""
    if source == "edgar":
        why = f"EDGAR gave no 10-K or 10-Q filings of {ticker} to import"
        if failures:
            why += f" ({len(failures)} failed: {'; '.join(failures[:3])})"
        return (
            f"nothing to index for {ticker}: {why}; check the ticker, or import files with"
            " `appliance filings import PATH`"
        )
    inbox = inbox_dir(settings, ticker)
    return (
        f"nothing to index for {ticker}: no imported filings, and the inbox {inbox} is empty or"
        " missing while online fetch is off. Import filings with `appliance filings import"
        f" PATH`, or drop them into {inbox}, or set edgar_user_agent (a name and contact"
        " e-mail) to fetch from EDGAR; then POST /ops/index again"
    )
