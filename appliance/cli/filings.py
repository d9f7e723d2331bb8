"""``appliance filings import|fetch|list|show|report|sample``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from appliance.cli.common import emit_json, open_db, read, settings_from
from appliance.db.connection import Connection
from appliance.db.queries import filings as fq
from appliance.edgar.client import EdgarClient
from appliance.edgar.fetch import fetch_filings
from appliance.edgar.importer import FileOutcome, import_paths, planned_files
from appliance.edgar.sample import install_sample
from appliance.errors import InvalidPayload, NotFound
from appliance.instance import InstanceLock
from appliance.progress import MB, Progress
from appliance.settings import Settings


def register(sub: Any) -> None:
    filings = sub.add_parser("filings", help="SEC filings: import, fetch, inspect")
    fs = filings.add_subparsers(dest="filings_command", required=True)

    imp = fs.add_parser("import", help="import filings from files and directories (offline)")
    imp.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    imp.add_argument("--replace", action="store_true", help="re-import filings already stored")
    imp.add_argument("--json", action="store_true", help="print the report as one JSON object")
    imp.set_defaults(func=filings_import)

    fetch = fs.add_parser("fetch", help="download a ticker's filings from EDGAR and import them")
    fetch.add_argument("ticker")
    fetch.add_argument("--forms", default="10-K,10-Q", help="comma-separated (default 10-K,10-Q)")
    fetch.add_argument("--since", help="only filings filed on or after YYYY-MM-DD")
    fetch.add_argument("--replace", action="store_true", help="re-download imported filings")
    fetch.add_argument("--dest", help="download folder (default <data_dir>/filings)")
    fetch.add_argument("--json", action="store_true")
    fetch.set_defaults(func=filings_fetch)

    lst = fs.add_parser("list", help="list imported filings")
    lst.add_argument("--ticker")
    lst.add_argument("--form")
    lst.add_argument("--cutoff", help="hide filings filed after YYYY-MM-DD")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true", help="print JSON lines")
    lst.set_defaults(func=filings_list)

    show = fs.add_parser("show", help="a filing's metadata and sections, or one section's text")
    show.add_argument("accession")
    show.add_argument("--item", help="print this section's text (e.g. 1A, part2_item1a)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=filings_show)

    report = fs.add_parser("report", help="sections found per imported filing, with sizes")
    report.add_argument("--json", action="store_true", help="print JSON lines")
    report.set_defaults(func=filings_report)

    sample = fs.add_parser("sample", help="load the bundled ticker map and Apple sample filings")
    sample.add_argument("--force", action="store_true", help="reload even if data exists")
    sample.add_argument("--json", action="store_true")
    sample.set_defaults(func=filings_sample)


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"{flag} must be YYYY-MM-DD, got {value!r}") from None


def _print_outcome(outcome: FileOutcome) -> None:
    if outcome.status in ("imported", "replaced"):
        items = " ".join(f"{item}:{chars}" for item, chars in outcome.sections)
        print(
            f"{outcome.status:9s} {outcome.accession} {outcome.ticker or '-'} {outcome.form} "
            f"{outcome.filing_date} ({outcome.seconds:.2f}s) {_facts(outcome)}{items}"
        )
    elif outcome.status == "failed":
        print(f"failed    {outcome.path}: {outcome.reason}", file=sys.stderr)
    elif outcome.status != "metadata":
        print(f"{outcome.status:9s} {outcome.path}: {outcome.reason} {_facts(outcome)}".rstrip())


def _facts(outcome: FileOutcome) -> str:
    if outcome.facts is None:
        return ""
    conflicts = f" ({outcome.fact_conflicts} conflicting)" if outcome.fact_conflicts else ""
    return f"facts:{outcome.facts}{conflicts} "


def _with_db(settings: Settings) -> Connection:
    return open_db(settings)


def _size(path: Path | str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def filings_import(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    conn = _with_db(settings)
    planned = planned_files(args.paths)
    files = Progress("importing", len(planned), "files", enabled=not args.json)
    total_bytes = sum(_size(p) for p in planned)
    done_bytes = 0

    def on_file(outcome: FileOutcome) -> None:
        nonlocal done_bytes
        done_bytes += _size(outcome.path)
        files.clear()
        if not args.json:
            _print_outcome(outcome)
        files.advance(extra=f"{done_bytes / MB:.1f}/{total_bytes / MB:.1f} MB")

    try:
        report = import_paths(
            conn,
            args.paths,
            replace=args.replace,
            progress=on_file,
            max_bytes=settings.max_decompressed_bytes,
        )
    finally:
        conn.close()
    files.finish()
    if args.json:
        emit_json(report.public())
    else:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts().items()))
        print(f"{counts or 'nothing to import'} in {report.seconds:.1f}s")
    if report.imported:
        _say_how_indexed(settings)
    return 1 if report.failed else 0


def _say_how_indexed(settings: Settings) -> None:
    """New filings are searchable once indexed: say who does it (on stderr, so --json output
    stays one object)."""
    pid = InstanceLock.serving(settings.data_dir)
    if pid is not None and settings.index_new_imports:
        note = (
            f"the running server (pid {pid}) indexes the new filings in the background within"
            " seconds; GET /ops/jobs shows the progress"
        )
    elif pid is not None:
        note = (
            f"the running server (pid {pid}) does not index new imports (index_new_imports ="
            " false): run `appliance index --all` or POST /ops/index?ticker=TICKER"
        )
    else:
        note = (
            "no server is running: `appliance serve` indexes the new filings at start-up, or"
            " run `appliance index --all` now"
        )
    print(f"note: {note}", file=sys.stderr)


def filings_fetch(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    client = EdgarClient.from_settings(settings)  # refuses to exist without a contact User-Agent
    forms = [f.strip().upper() for f in args.forms.split(",") if f.strip()]
    since = _day(args.since, "--since")
    dest = Path(args.dest) if args.dest else settings.data_dir / "filings"
    conn = _with_db(settings)
    downloads = Progress(f"fetching {args.ticker.upper()}", unit="filings", enabled=not args.json)

    def on_download(line: str) -> None:
        downloads.clear()
        print(line)
        downloads.advance()

    try:
        report = fetch_filings(
            conn,
            client,
            args.ticker,
            dest,
            forms=forms,
            since=since,
            replace=args.replace,
            progress=None if args.json else on_download,
        )
    finally:
        conn.close()
    downloads.finish()
    if args.json:
        emit_json(report.public())
    else:
        imported = len(report.imported.imported) if report.imported else 0
        print(
            f"{report.ticker} (CIK {report.cik}): {len(report.downloaded)} downloaded, "
            f"{imported} imported, {len(report.skipped)} already imported, "
            f"{len(report.failed)} failed, {report.requests} requests in {report.seconds:.1f}s"
        )
        for failure in report.failed:
            print(
                f"failed    {failure.accession} {failure.path}: {failure.reason}", file=sys.stderr
            )
    if report.imported and report.imported.imported:
        _say_how_indexed(settings)
    failed = report.failed or (report.imported.failed if report.imported else [])
    return 1 if failed else 0


def filings_list(args: argparse.Namespace) -> int:
    cutoff = _day(args.cutoff, "--cutoff")
    rows = read(
        settings_from(args),
        fq.list_filings,
        ticker=args.ticker,
        forms=[args.form.upper()] if args.form else [],
        cutoff=cutoff.isoformat() if cutoff else None,
        limit=max(1, args.limit),
    )
    for row in rows:
        if args.json:
            emit_json(row.public())
        else:
            print(
                f"{row.accession}\t{row.ticker or '-'}\t{row.form}\t{row.filing_date}\t"
                f"{row.period_of_report or '-'}\t{row.company or '-'}"
            )
    return 0


def filings_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    row = read(settings, fq.filing, args.accession)
    if row is None:
        raise NotFound(f"no imported filing {args.accession}")
    if args.item:
        found = read(settings, fq.section, args.accession, args.item)
        if found is None:
            raise NotFound(f"filing {args.accession} has no section {args.item}")
        if args.json:
            emit_json({**found.info.public(), "accession": found.accession, "text": found.text})
        else:
            print(f"{found.info.item}. {found.info.title}\n\n{found.text}")
        return 0
    sections = read(settings, fq.filing_sections, args.accession)
    if args.json:
        emit_json({**row.public(), "sections": [s.public() for s in sections]})
    else:
        for key, value in row.public().items():
            print(f"{key:20s} {value}")
        for s in sections:
            print(f"  {s.item:14s} {s.char_count:8d}  {s.title}")
    return 0


def filings_report(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    rows = read(settings, fq.list_filings, limit=1_000_000)
    for row in sorted(rows, key=lambda r: (r.ticker or f"~{r.cik}", r.filing_date)):
        sections = read(settings, fq.filing_sections, row.accession)
        if args.json:
            emit_json(
                {
                    "accession": row.accession,
                    "ticker": row.ticker,
                    "cik": row.cik,
                    "form": row.form,
                    "filing_date": row.filing_date,
                    "sections": {s.item: s.char_count for s in sections},
                }
            )
        else:
            items = " ".join(f"{s.item}:{s.char_count}" for s in sections)
            label = row.ticker or f"CIK{row.cik}"
            print(f"{label:8s} {row.form:5s} {row.filing_date} {row.accession}  {items}")
    return 0


def filings_sample(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    conn = _with_db(settings)
    try:
        result = install_sample(conn, force=args.force)
    finally:
        conn.close()
    if args.json:
        emit_json(result.public())
    else:
        symbols = f"{result.symbols.total} symbols" if result.symbols else "symbols kept"
        counts = result.filings.counts() if result.filings else {}
        print(f"sample: {symbols}; filings {counts or 'kept'}")
    return 0
