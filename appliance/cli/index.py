"""``appliance index --all | TICKER...``: index imported filings now, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from appliance.cli.common import emit_json, open_db, settings_from
from appliance.db.connection import Connection, transaction
from appliance.db.queries import rag as rq
from appliance.errors import UnknownTicker
from appliance.rag.index import Indexer, IndexProgress
from appliance.rag.sources import company_accessions


def register(sub: Any) -> None:
    p = sub.add_parser(
        "index",
        help="chunk, embed and index imported filings (incremental, resumable)",
        description="Index imported filings synchronously. Sections already indexed are "
        "skipped, so an interrupted run picks up where it stopped.",
    )
    p.add_argument("tickers", nargs="*", metavar="TICKER", help="index these companies")
    p.add_argument("--all", action="store_true", help="index every imported filing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


class _Bar:
    """A one-line progress bar on stderr (only when stderr is a terminal or forced)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()

    def __call__(self, p: IndexProgress) -> None:
        if not self.enabled:
            return
        total = max(p.sections_total, 1)
        width = 30
        filled = int(width * p.sections_done / total)
        rate = p.chunks / max(time.perf_counter() - self.started, 1e-6)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {p.sections_done}/{p.sections_total}"
            f" sections, {p.chunks} chunks, {rate:.1f} chunks/s"
        )
        if p.sections_done >= p.sections_total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    if not args.all and not args.tickers:
        print("error: name one or more tickers, or --all", file=sys.stderr)
        return 2
    settings = settings_from(args)
    conn = open_db(settings)
    try:
        accessions: list[str] | None = None
        if not args.all:
            accessions = []
            for ticker in args.tickers:
                t = ticker.upper()
                cik = rq.resolve_ticker(conn, t)
                found = company_accessions(conn, t, cik)
                if cik is None and not found:
                    raise UnknownTicker(f"unknown ticker {t!r}: not in the symbol map")
                if not found:
                    print(f"warning: no imported filings for {t}", file=sys.stderr)
                accessions += found
        from appliance.nlp.service import open_embedder

        indexer = Indexer(open_embedder(settings))
        result = indexer.run(
            lambda fn, *a: fn(conn, *a),
            lambda fn, *a: _write(conn, fn, *a),
            accessions,
            on_progress=_Bar(not args.json),
        )
        total = rq.chunk_count(conn)
    finally:
        conn.close()
    summary = {
        "sections": result.sections,
        "chunks": result.chunks,
        "replaced_chunks": result.removed,
        "chunks_total": total,
        "seconds": round(result.seconds, 2),
    }
    if args.json:
        emit_json(summary)
    else:
        print(
            f"indexed {result.sections} sections into {result.chunks} chunks in "
            f"{result.seconds:.1f}s ({total} chunks in the index)"
        )
    return 0


def _write(conn: Connection, fn: Any, *args: Any) -> Any:
    with transaction(conn):
        return fn(conn, *args)
