"""Retrieval quality and latency on every shared filing, every ranking stage, in one run.

``make bench`` prints, for BM25 only, dense only, fused (the default), fused + rerank (the
all-mpnet-base-v2 reader), fused + x-enc (the cross-encoder) and the plain "dense top-5"
baseline: hit@5, section@1, point-in-time violations and p50/p95 latency on three question
sets:

- the blind ``test`` split (tests/data/blind/qa_blind.jsonl, the questions with
  evidence phrases; Tesla, CARBO, Medicis, GAINSCO, the
  Commonwealth fund): the headline, never tuned on;
- the blind ``tune`` split (Apple, NVIDIA): what the knobs were chosen on;
- tests/data/qa_dev.jsonl: the older regression set.

Then the misses of the default run on the blind test split by kind; what the answer text
quotes (:func:`evaluate_answers`: sentences scored by shared words alone, and with their
meaning, the default); and indexing time old vs
new, and new with the distilled passage encoder (:func:`compare_indexing`; ``--no-index``
skips it).

The corpus (all of shared/data/edgar) is imported and indexed with the real int8 embedder
(``--passage-encoder distilled``: the passages with the distilled encoder, questions still
with MiniLM) once, then cached under ``.bench-cache/`` keyed by the chunking policy, the
passage encoder's graph, the code that builds the index and the corpus's files
(:func:`index_key`).

Run: ``python tests/bench/bench_retrieval.py [--rebuild] [--verbose] [--no-index]
[--passage-encoder distilled]``
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import shutil
import sys
import time
from collections import Counter
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
from appliance.rag.answer import answer_sentences  # noqa: E402
from appliance.rag.index import DEFAULT_POLICY, Indexer  # noqa: E402
from appliance.rag.reading import PassageVectors  # noqa: E402
from appliance.rag.retrieve import (  # noqa: E402
    CROSS_ENCODER_PRIOR,
    READER_PRIOR,
    Retriever,
    SearchRequest,
    Tuning,
)
from appliance.settings import load_settings  # noqa: E402

NO_BOOSTS = {
    "section_boost": 0.0,
    "year_boost": 0.0,
    "recency_boost": 0.0,
    "latest_boost": 0.0,
    "form_boost": 0.0,
    "period_boost": 0.0,
    "period_filter": False,
    "focus_boost": 0.0,
}
# The reranking runs at the candidate counts and priors that did best on the tune split.
RUNS: dict[str, Tuning] = {
    "BM25 only": Tuning(dense_weight=0.0, rerank_candidates=0),
    "dense only": Tuning(keyword_weight=0.0, rerank_candidates=0),
    "fused": Tuning(rerank_candidates=0),
    "fused + rerank": Tuning(rerank_candidates=8, rerank_prior=READER_PRIOR),
    "fused + x-enc": Tuning(rerank_candidates=12, rerank_prior=CROSS_ENCODER_PRIOR),
    "dense top-5": Tuning(keyword_weight=0.0, mmr_lambda=1.0, rerank_candidates=0, **NO_BOOSTS),
}
CROSS_ENCODER_RUNS = frozenset({"fused + x-enc"})  # the others rerank with the reader


def shared_edgar() -> Path:
    env = os.environ.get("APPLIANCE_SHARED_EDGAR")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "data" / "edgar" for p in (ROOT.parent, *ROOT.parents)]
    candidates.append(Path("/work/shared/data/edgar"))
    for c in candidates:
        if (c / "filings").is_dir():
            return c
    raise SystemExit("shared/data/edgar not found; set APPLIANCE_SHARED_EDGAR")


def import_corpus(data_dir: Path, sample: bool = False) -> Any:
    """Import the shared EDGAR corpus (or only the bundled Apple sample) into a new data dir."""
    edgar = shared_edgar()
    settings = load_settings(data_dir=data_dir, load_models=False, access_log=False)
    initialize(settings)
    conn = connect(settings.db_path, synchronous="NORMAL")
    if sample:
        from appliance.edgar.sample import install_sample

        install_sample(SqliteSession(conn))
        return conn
    tickers = edgar / "tickers" / "2025-12-14_iqterminal" / "company_tickers_exchange.json"
    with transaction(conn):
        store_symbols(conn, parse_ticker_file(tickers.read_bytes()), "shared", _day("2025-12-14"))
    report = import_paths(SqliteSession(conn), [edgar / "submissions", edgar / "filings"])
    print(f"imported: {report.counts()} in {report.seconds:.1f}s")
    return conn


def index_corpus(conn: Any, indexer: Indexer) -> tuple[float, int]:
    started = time.perf_counter()
    result = indexer.run(SqliteSession(conn))
    return time.perf_counter() - started, result.chunks


def build(data_dir: Path, passages: Any) -> None:
    conn = import_corpus(data_dir)
    try:
        seeded = seed_vectors(conn, data_dir.parent)
        indexer = Indexer(passages)
        secs, chunks = index_corpus(conn, indexer)
        reused = f", {indexer.reused} vectors reused from {seeded}" if seeded else ""
        print(
            f"indexed: {chunks} chunks in {secs:.0f}s ({chunks / secs:.1f} chunks/s,"
            f" version {indexer.version}{reused})"
        )
    finally:
        conn.close()


def seed_vectors(conn: Any, caches: Path) -> str | None:
    """Copy the vectors of the newest earlier cached index into a new one: they are keyed by
    the model's graph and the exact text, so they hold for any index code (as on a site
    that re-indexes), and a change to chunking does not cost a full pass of the reader.
    Returns the earlier cache's name. (compare_indexing times fresh data dirs: no seed.)"""
    earlier = sorted(
        (p for p in caches.glob("*/appliance.sqlite3") if ".tmp" not in p.parent.name),
        key=lambda p: p.stat().st_mtime,
    )
    if not earlier:
        return None
    conn.execute("ATTACH DATABASE ? AS earlier", (str(earlier[-1]),))
    try:
        with transaction(conn):
            conn.execute(
                "INSERT INTO embedding_cache SELECT * FROM earlier.embedding_cache"
                " WHERE true ON CONFLICT (key) DO NOTHING"
            )
    finally:
        conn.execute("DETACH DATABASE earlier")
    return earlier[-1].parent.name


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


def evaluate_answers(
    conn: Any, retriever: Retriever, questions: list[dict[str, Any]], embedder: Any
) -> dict[str, float]:
    """What the reply's answer text quotes (the search's top 5 composed by
    ``appliance.rag.answer``; ``embedder`` None for shared words alone): the share of
    questions whose answer quotes an evidence phrase in a sentence cited to an expected
    filing, and whose first sentence does; sentences per answer; the composing's p50 in ms."""
    quoted = first = sentences = 0
    seconds: list[float] = []
    asked = [q for q in questions if q.get("evidence") and q.get("expect")]
    for q in asked:
        phrases = [qa_eval.normalize(e) for e in qa_eval.evidence_phrases(q)]
        expected = {e["accession"] for e in q["expect"]}
        req = SearchRequest(query=q["query"], ticker=q.get("ticker"), cutoff=q.get("cutoff"))
        result = retriever.search(conn, req)
        hits = result.hits
        started = time.perf_counter()
        chosen = answer_sentences(q["query"], hits, embedder, latest=result.plan.latest)
        seconds.append(time.perf_counter() - started)
        ok = [
            hits[s.citation - 1].citation.accession in expected
            and any(p in qa_eval.normalize(s.text) for p in phrases)
            for s in chosen
        ]
        quoted += any(ok)
        first += bool(ok and ok[0])
        sentences += len(chosen)
    n = max(len(asked), 1)
    seconds.sort()
    return {
        "n": len(asked),
        "quoted": quoted / n,
        "first": first / n,
        "sentences": sentences / n,
        "p50_ms": 1000 * seconds[len(seconds) // 2] if seconds else 0.0,
    }


# The code an index's content follows from: filing parsing and sectioning, the schema and its
# migrations, chunking and indexing. An edit to any of these invalidates a cached index.
INDEX_CODE = (
    "appliance/edgar",
    "appliance/db",
    "appliance/rag/chunking.py",
    "appliance/rag/index.py",
)


def index_key(passages: Path) -> str:
    """What a cached index is valid for: the chunking policy, the passage encoder's graph, the
    code that builds the index and the shared corpus's file list (a cache keyed on the policy
    and graph alone silently outlived importer changes, and its figures drifted from a fresh
    build)."""
    h = hashlib.sha256((passages / "model.int8.onnx").read_bytes())
    for entry in INDEX_CODE:
        path = ROOT / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(ROOT).as_posix().encode() + f.read_bytes())
    edgar = shared_edgar()
    for f in sorted(edgar.rglob("*")):
        if f.is_file():
            h.update(f"{f.relative_to(edgar).as_posix()}:{f.stat().st_size}".encode())
    return f"{DEFAULT_POLICY.version}-{h.hexdigest()[:12]}"


def cached_corpus(passages: Path | None = None, *, rebuild: bool = False) -> Path:
    """The data dir holding the whole shared corpus indexed (its passages embedded by the
    model in the directory ``passages``, by default MiniLM as the questions), built once and
    cached."""
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    passages = passages or ModelPaths.locate().embedder
    cache = ROOT / ".bench-cache" / index_key(passages)
    if rebuild and cache.exists():
        shutil.rmtree(cache)
    if not (cache / "appliance.sqlite3").exists():
        tmp = cache.with_name(cache.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        build(tmp, Embedder(passages, threads=2))
        tmp.rename(cache)
    return cache


def read_ahead(cache: Path, reader: Any) -> None:
    """Store the reader's vector of every passage in the cached index, as the server's worker
    does in the background (only passages without one are read: quick once done)."""
    conn = connect(cache / "appliance.sqlite3")
    try:
        started = time.perf_counter()
        read = PassageVectors(reader).fill_all(SqliteSession(conn))
        secs = time.perf_counter() - started
        if read:
            print(f"reader: {read} passages read ahead in {secs:.0f}s ({read / secs:.1f}/s)")
    finally:
        conn.close()


def compare_indexing(embedder: Any, distilled: Any, sample: bool) -> None:
    """Index the whole shared corpus (or the bundled sample) three times in this run: with
    the previous indexer settings, then the current ones, then the current ones with the
    distilled passage encoder (``passage_encoder = "distilled"``), each into a fresh data
    dir, and print the times and ratios to the previous: indexing alone (chunk, embed, write)
    and end to end (import too)."""
    import tempfile

    corpus = "the bundled Apple sample" if sample else "the shared corpus"
    print(f"indexing {corpus}, old vs new, in one run:")
    with tempfile.TemporaryDirectory() as tmp:
        timings: dict[str, tuple[float, float]] = {}
        for name, indexer in (
            ("old", Indexer(embedder, **Indexer.PREVIOUS)),
            ("new", Indexer(embedder)),
            ("distilled", Indexer(distilled)),
        ):
            started = time.perf_counter()
            conn = import_corpus(Path(tmp) / name, sample)
            imported = time.perf_counter() - started
            try:
                secs, chunks = index_corpus(conn, indexer)
            finally:
                conn.close()
            timings[name] = (secs, imported + secs)
            print(
                f"  indexing {name}: {chunks} chunks in {secs:.0f}s ({chunks / secs:.1f}/s,"
                f" {indexer.reused} vectors reused)"
            )
        old, old_total = timings["old"]
        for name in ("new", "distilled"):
            new, new_total = timings[name]
            print(
                f"  speed-up {name} vs old: indexing {old / new:.2f}x, end to end"
                f" (import {new_total - new:.0f}s + indexing) {old_total / new_total:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--no-index", action="store_true", help="skip timing indexing old vs new")
    parser.add_argument(
        "--index-sample", action="store_true", help="time indexing on the bundled sample only"
    )
    parser.add_argument("--runs", nargs="*", default=list(RUNS))
    parser.add_argument(
        "--passage-encoder",
        choices=("distilled", "embedder"),
        default="embedder",
        help="what embeds the passages (the setting of that name): MiniLM as the questions,"
        " or the distilled passage encoder",
    )
    parser.add_argument(
        "--reader-cache",
        type=int,
        default=0,
        help="passages the reader keeps vectors of in memory (the server keeps 4096)",
    )
    parser.add_argument(
        "--unread",
        action="store_true",
        help="the reader reads its candidates at query time instead of their stored vectors"
        " (a passage the worker has not read ahead yet: the cold figure)",
    )
    args = parser.parse_args()
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths
    from appliance.nlp.reader import PassageReader
    from appliance.nlp.reranker import Reranker

    paths = ModelPaths.locate()
    embedder = Embedder(paths.embedder, threads=2)
    passages_dir = paths.passage_encoder if args.passage_encoder == "distilled" else paths.embedder
    reranking = {name for name in args.runs if RUNS[name].rerank_candidates}
    cross = Reranker(paths.reranker, threads=2) if reranking & CROSS_ENCODER_RUNS else None
    reader = (
        PassageReader(paths.reader, threads=2, cache_size=args.reader_cache)
        if reranking - CROSS_ENCODER_RUNS
        else None
    )
    cache = cached_corpus(passages_dir, rebuild=args.rebuild)
    if reader is not None:
        read_ahead(cache, reader)
    conn = connect(cache / "appliance.sqlite3", readonly=True)
    blind = qa_eval.load_blind()
    sets = {
        "blind test": [q for q in blind if q["split"] == "test"],
        "blind tune": [q for q in blind if q["split"] == "tune"],
        "qa_dev": qa_eval.load_questions(qa_eval.DEV_SET),
    }
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    filings = conn.execute("SELECT count(*) FROM filings").fetchone()[0]
    sizes = ", ".join(f"{k} {len(v)}" for k, v in sets.items())
    print(f"retrieval: {filings} filings, {chunks} chunks; questions: {sizes}")
    print(f"  {'run':16s} {'set':11s} hit@5  sec@1  pit  p50 ms  p95 ms")
    reports: dict[tuple[str, str], qa_eval.Report] = {}
    for name in args.runs:
        tuning = RUNS[name]
        scorer = cross if name in CROSS_ENCODER_RUNS else reader
        retriever = Retriever(embedder, tuning, scorer if tuning.rerank_candidates else None)
        if args.unread:
            retriever.passages = None
        retriever.load(conn)
        for set_name, questions in sets.items():
            report = evaluate(conn, retriever, questions)
            reports[name, set_name] = report
            p50, p95 = report.latency_ms(50), report.latency_ms(95)
            print(
                f"  {name:16s} {set_name:11s} {report.hit_rate:.3f}  {report.section_accuracy:.3f}"
                f"  {report.violations:3d}  {p50:6.1f}  {p95:6.1f}"
            )
    for run, set_name in itertools.product(
        ("fused", "fused + rerank"), ("blind test", "blind tune")
    ):
        report = reports.get((run, set_name))
        if report is None:
            continue
        kinds = {q["id"]: q["kind"] for q in sets[set_name]}
        total = Counter(kinds.values())
        missed = Counter(kinds[o.id] for o in report.outcomes if not o.hit)
        by_kind = ", ".join(f"{k} {missed[k]}/{total[k]}" for k in sorted(total))
        print(f"  misses of {run} on {set_name} by kind: {by_kind}")
        if args.verbose:
            for o in report.outcomes:
                if not (o.hit and o.section_ok):
                    tag = "MISS" if not o.hit else "SECTION"
                    print(f"    {tag} {o.id} [{kinds[o.id]}]: first {o.first}")
    answered = "fused + rerank" if "fused + rerank" in args.runs else args.runs[0]
    print(f"answers ({answered}, top 5): the answer quotes evidence from an expected filing")
    print(f"  {'sentences scored by':20s} {'set':11s} quoted  first  sentences  p50 ms")
    retriever = Retriever(
        embedder, RUNS[answered], reader if RUNS[answered].rerank_candidates else None
    )
    retriever.load(conn)
    for label, sentences_by in (("words", None), ("words + meaning", embedder)):
        for set_name, questions in sets.items():
            a = evaluate_answers(conn, retriever, questions, sentences_by)
            print(
                f"  {label:20s} {set_name:11s} {a['quoted']:.3f}   {a['first']:.3f}"
                f"  {a['sentences']:9.2f}  {a['p50_ms']:6.1f}"
            )
    conn.close()
    if not args.no_index:
        compare_indexing(embedder, Embedder(paths.passage_encoder, threads=2), args.index_sample)


if __name__ == "__main__":
    main()
