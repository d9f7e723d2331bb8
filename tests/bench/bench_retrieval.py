"""Retrieval quality and latency on every shared filing: ``make bench`` prints
hit@5, section accuracy, point-in-time violations and p50/p95 latency on the development
question set (tests/data/qa_dev.jsonl), with BM25-only and dense-only runs as baselines
measured in the same run.

The corpus (all of shared/data/edgar: Apple 1995-2025, NVIDIA, Tesla, Medicis, GAINSCO,
a 2016 fund, CARBO) is imported and indexed with the real int8 embedder once, then cached
under ``.bench-cache/`` keyed by the chunking policy and the embedder graph; later runs only query.

Run: ``python tests/bench/bench_retrieval.py [--rebuild] [--verbose]``
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import qa_eval  # noqa: E402

from appliance.bootstrap import initialize  # noqa: E402
from appliance.db.connection import connect, transaction  # noqa: E402
from appliance.db.sqlite import SqliteSession  # noqa: E402
from appliance.edgar.importer import import_paths  # noqa: E402
from appliance.edgar.symbols import parse_ticker_file, store_symbols  # noqa: E402
from appliance.rag.index import DEFAULT_POLICY, Indexer  # noqa: E402
from appliance.rag.retrieve import Retriever, SearchRequest, Tuning  # noqa: E402
from appliance.settings import load_settings  # noqa: E402


def shared_edgar() -> Path:
    env = os.environ.get("APPLIANCE_SHARED_EDGAR")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "data" / "edgar" for p in (ROOT.parent, *ROOT.parents)]
    candidates.append(Path("/work/shared/data/edgar"))
    for c in candidates:
        if (c / "filings").is_dir():
            return c
    raise SystemExit("shared/data/edgar not found; set APPLIANCE_SHARED_EDGAR")


def build(data_dir: Path, embedder: Any) -> None:
    edgar = shared_edgar()
    settings = load_settings(data_dir=data_dir, load_models=False, access_log=False)
    initialize(settings)
    conn = connect(settings.db_path, synchronous="NORMAL")
    try:
        tickers = edgar / "tickers" / "2025-12-14_iqterminal" / "company_tickers_exchange.json"
        with transaction(conn):
            store_symbols(
                conn, parse_ticker_file(tickers.read_bytes()), "shared", _day("2025-12-14")
            )
        db = SqliteSession(conn)
        report = import_paths(db, [edgar / "submissions", edgar / "filings"])
        print(f"imported: {report.counts()} in {report.seconds:.1f}s")
        started = time.perf_counter()
        result = Indexer(embedder).run(db)
        secs = time.perf_counter() - started
        print(
            f"indexed: {result.sections} sections, {result.chunks} chunks in {secs:.0f}s"
            f" ({result.chunks / secs:.1f} chunks/s, policy {DEFAULT_POLICY.version})"
        )
    finally:
        conn.close()


def _day(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def evaluate(conn: Any, retriever: Retriever, questions: list[dict[str, Any]]) -> qa_eval.Report:
    def ask(q: dict[str, Any]) -> list[dict[str, Any]]:
        req = SearchRequest(
            query=q["query"],
            ticker=q.get("ticker"),
            cutoff=q.get("cutoff"),
            forms=tuple(q["forms"]) if q.get("forms") else None,
            sections=tuple(q["sections"]) if q.get("sections") else None,
        )
        return [
            {
                "accession": h.citation.accession,
                "section": h.citation.item,
                "text": h.citation.text,
                "filing_date": h.citation.filing_date,
            }
            for h in retriever.search(conn, req).hits
        ]

    return qa_eval.score(questions, ask)


def cached_corpus(embedder: Any, *, rebuild: bool = False) -> Path:
    """The data dir holding the whole shared corpus indexed, built once and cached."""
    from appliance.nlp.paths import ModelPaths

    # The cached index is only valid for the same chunking policy and the same embedder graph.
    model = ModelPaths.locate().embedder / "model.int8.onnx"
    graph = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
    cache = ROOT / ".bench-cache" / f"{DEFAULT_POLICY.version}-{graph}"
    if rebuild and cache.exists():
        shutil.rmtree(cache)
    if not (cache / "appliance.sqlite3").exists():
        tmp = cache.with_name(cache.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        build(tmp, embedder)
        tmp.rename(cache)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--questions", default=str(qa_eval.DEV_SET))
    args = parser.parse_args()
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    embedder = Embedder(ModelPaths.locate().embedder, threads=2)
    cache = cached_corpus(embedder, rebuild=args.rebuild)
    conn = connect(cache / "appliance.sqlite3", readonly=True)
    questions = qa_eval.load_questions(Path(args.questions))
    runs = {
        "fused (default)": Tuning(),
        "BM25 only": dataclasses.replace(Tuning(), dense_weight=0.0),
        "dense only": dataclasses.replace(Tuning(), keyword_weight=0.0),
        "fused, no boosts": dataclasses.replace(
            Tuning(), section_boost=0, year_boost=0, recency_boost=0, latest_boost=0, form_boost=0
        ),
        "fused, no MMR": dataclasses.replace(Tuning(), mmr_lambda=1.0),
    }
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    filings = conn.execute("SELECT count(*) FROM filings").fetchone()[0]
    print(f"retrieval: {len(questions)} questions, {filings} filings, {chunks} chunks")
    for name, tuning in runs.items():
        retriever = Retriever(embedder, tuning)
        retriever.load(conn)
        report = evaluate(conn, retriever, questions)
        print(f"  {name:18s} {report.summary()}")
        if args.verbose and name == "fused (default)":
            for o in report.outcomes:
                if not (o.hit and o.section_ok):
                    print(f"    {'MISS' if not o.hit else 'SECTION'} {o.id}: first {o.first}")
    conn.close()


if __name__ == "__main__":
    main()
