"""``appliance index --all | TICKER...``: index imported filings now, with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli.common import EXIT_FAILED, emit_json, session, settings_from, warn
from appliance.db.queries import filings as fq
from appliance.db.queries import rag as rq
from appliance.errors import InvalidPayload, UnknownTicker
from appliance.progress import Progress
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
    """Sections indexed, with chunks, rate and ETA, on stderr (see appliance.progress)."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress("indexing", unit="sections", enabled=enabled)

    def __call__(self, p: IndexProgress) -> None:
        self.progress.update(p.sections_done, total=p.sections_total, extra=f"{p.chunks} chunks")


def run(args: argparse.Namespace) -> int:
    if not args.all and not args.tickers:
        raise InvalidPayload("name one or more tickers, or --all")
    settings = settings_from(args)
    missing: list[str] = []
    with session(settings) as db:
        accessions: list[str] | None = None
        if not args.all:
            accessions = []
            for ticker in args.tickers:
                t = ticker.upper()
                cik = db.read(rq.resolve_ticker, t)
                found = db.read(company_accessions, t, cik)
                if cik is None and not found:
                    raise UnknownTicker(f"unknown ticker {t!r}: not in the symbol map")
                if not found:
                    missing.append(t)
                accessions += found
        elif db.read(fq.count_filings) == 0:
            missing.append("any company")
        if missing:
            # Asked to index what is not there: say so and fail, rather than "indexed 0".
            warn(
                f"nothing imported for {', '.join(missing)}: import filings first "
                "('appliance filings import PATH' or 'appliance filings fetch TICKER')"
            )
            if not accessions:
                return EXIT_FAILED
        from appliance.nlp.service import open_passage_encoder

        indexer = Indexer(open_passage_encoder(settings))
        bar = _Bar(not args.json)
        result = indexer.run(db, accessions, on_progress=bar)
        bar.progress.finish()
        total = db.read(rq.chunk_count)
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
    return EXIT_FAILED if missing else 0
