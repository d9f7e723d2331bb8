"""Inline-XBRL facts: what extraction costs at import, and what facts do for numeric questions.

1. Import time of every shared filing with and without extraction (alternating runs into
   fresh data dirs, medians), extraction alone per XBRL filing, and facts per second.
2. The numeric questions (tests/data/qa_numeric_dev.jsonl: tune split Apple, held-out split
   NVIDIA and Tesla, the headline) answered by the text Q&A alone (before) and with facts
   first (after), in the same run over the same index: exact-figure rate (the statement's
   figure, as printed or in full, in the answer) and hit@5 of the citations.

Run: ``python tests/bench/bench_facts.py [--runs 3] [--skip-qa]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import qa_eval  # noqa: E402
from bench_retrieval import cached_corpus, shared_edgar  # noqa: E402

from appliance.bootstrap import initialize  # noqa: E402
from appliance.db.connection import Connection, connect  # noqa: E402
from appliance.db.sqlite import SqliteSession  # noqa: E402
from appliance.edgar.filing import parse_filing  # noqa: E402
from appliance.edgar.importer import import_paths  # noqa: E402
from appliance.edgar.layout import hints_for  # noqa: E402
from appliance.settings import load_settings  # noqa: E402

NUMERIC_SET = ROOT / "tests" / "data" / "qa_numeric_dev.jsonl"


def _import_once(filings: Path, facts: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data", load_models=False, access_log=False)
        initialize(settings)
        conn = connect(settings.db_path, synchronous="NORMAL")
        try:
            started = time.perf_counter()
            report = import_paths(SqliteSession(conn), [filings], facts=facts)
            seconds = time.perf_counter() - started
            stored = int(conn.execute("SELECT count(*) FROM facts").fetchone()[0])
        finally:
            conn.close()
        assert not report.failed, report.failed
        return seconds, stored


def bench_import(runs: int) -> None:
    filings = shared_edgar() / "filings"
    times: dict[bool, list[float]] = {False: [], True: []}
    stored = 0
    for _ in range(runs):
        for facts in (False, True):  # alternating, so machine load hits both alike
            seconds, count = _import_once(filings, facts)
            times[facts].append(seconds)
            stored = max(stored, count)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    files = sum(1 for p in filings.rglob("*") if p.is_file() and "-index_" not in p.name)
    print(f"import of {files} shared filings, median of {runs}:")
    print(f"  without extraction {off:6.2f} s")
    print(
        f"  with extraction    {on:6.2f} s  (x{on / off:.2f}; {stored} facts,"
        f" {stored / on:,.0f} facts/s of import, {stored / max(on - off, 1e-9):,.0f} facts/s"
        " of extraction)"
    )
    xbrl = [p for p in sorted(filings.rglob("*.htm*")) if "-index_" not in p.name]
    per_file: list[tuple[str, float, float, int]] = []
    for path in xbrl:
        data, hints = path.read_bytes(), hints_for(path)
        plain = statistics.median(_parse(data, hints, False)[0] for _ in range(runs))
        timed = [_parse(data, hints, True) for _ in range(runs)]
        with_facts = statistics.median(t for t, _ in timed)
        if timed[0][1]:
            per_file.append((path.name, plain, with_facts, timed[0][1]))
    total_plain = sum(p for _, p, _, _ in per_file)
    total_facts = sum(f for _, _, f, _ in per_file)
    count = sum(n for _, _, _, n in per_file)
    print(
        f"  parse of the {len(per_file)} XBRL filings: {total_plain:.2f} s text only,"
        f" {total_facts:.2f} s with facts (x{total_facts / total_plain:.2f});"
        f" extraction {count / max(total_facts - total_plain, 1e-9):,.0f} facts/s"
    )


def _parse(data: bytes, hints: Any, facts: bool) -> tuple[float, int]:
    started = time.perf_counter()
    parsed = parse_filing(data, hints, facts=facts)
    seconds = time.perf_counter() - started
    return seconds, len(parsed.facts.rows) if parsed.facts else 0


def load_numeric() -> list[dict[str, Any]]:
    lines = NUMERIC_SET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _figure_found(answer: str, q: dict[str, Any]) -> bool:
    return any(figure in answer for figure in q["figure"])


def _drop_facts(conn: Connection) -> None:
    conn.execute("DELETE FROM facts")
    conn.execute("DELETE FROM fact_extractions")


def _copy(cache: Path, dest: Path, with_facts: bool) -> Path:
    """The retrieval bench's indexed corpus, migrated; with its facts (an import of the same
    files adds those of filings stored before facts existed) or with none at all (text only:
    the appliance before facts)."""
    shutil.copytree(cache, dest)
    settings = load_settings(data_dir=dest, load_models=False, access_log=False)
    initialize(settings)
    conn = connect(settings.db_path, synchronous="NORMAL")
    try:
        db = SqliteSession(conn)
        if with_facts:
            import_paths(db, [shared_edgar() / "filings"])
        else:
            db.write(_drop_facts)
        stored = conn.execute("SELECT count(*) FROM facts").fetchone()[0]
    finally:
        conn.close()
    print(f"  {'with' if with_facts else 'without'} facts: {stored} stored")
    return dest


def bench_qa() -> None:
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths
    from appliance.rag.answer import answer
    from appliance.rag.retrieve import Retriever, SearchRequest

    embedder = Embedder(ModelPaths.locate().embedder, threads=2)
    cache = cached_corpus()
    questions = load_numeric()
    general = qa_eval.load_questions()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "before (text only)": _copy(cache, Path(tmp) / "text", with_facts=False),
            "after (facts first)": _copy(cache, Path(tmp) / "facts", with_facts=True),
        }
        print(
            f"numeric questions ({NUMERIC_SET.name}): {len(questions)}; general dev set"
            f" ({qa_eval.DEV_SET.name}): {len(general)}, through the Q&A answer"
        )
        for name, data_dir in runs.items():
            conn = connect(data_dir / "appliance.sqlite3", readonly=True)
            retriever = Retriever(embedder)
            retriever.load(conn)
            answers: dict[str, dict[str, Any]] = {}

            def ask(
                q: dict[str, Any],
                conn: Any = conn,
                retriever: Any = retriever,
                answers: dict[str, dict[str, Any]] = answers,
            ) -> Any:
                req = SearchRequest(
                    query=q["query"],
                    ticker=q.get("ticker"),
                    cutoff=q.get("cutoff"),
                    forms=tuple(q["forms"]) if q.get("forms") else None,
                    sections=tuple(q["sections"]) if q.get("sections") else None,
                )
                body = answer(conn, retriever, req)
                answers[q["id"]] = body
                return body["citations"]

            report = qa_eval.score(questions, ask)
            for split in ("tune", "heldout"):
                ids = {q["id"] for q in questions if q["split"] == split}
                asked = [q for q in questions if q["id"] in ids and q["figure"]]
                exact = sum(_figure_found(answers[q["id"]]["answer"], q) for q in asked)
                hits = [o for o in report.outcomes if o.id in ids]
                print(
                    f"  {name:20s} {split:8s} exact figure {exact}/{len(asked)}"
                    f" ({exact / max(1, len(asked)):.3f})  hit@5"
                    f" {sum(o.hit for o in hits) / max(1, len(hits)):.3f}"
                    f"  p50 {statistics.median(o.seconds for o in hits) * 1000:.0f} ms"
                )
            absent = [q for q in questions if not q["figure"]]
            wrongly = sum(bool(answers[q["id"]].get("facts")) for q in absent)
            print(f"  {name:20s} no-figure questions answered from facts: {wrongly}/{len(absent)}")
            misses = [
                q["id"]
                for q in questions
                if q["figure"] and not _figure_found(answers[q["id"]]["answer"], q)
            ]
            print(f"  {name:20s} misses: {', '.join(misses) or 'none'}")
            overall = qa_eval.score(general, ask)
            from_facts = [q["id"] for q in general if answers[q["id"]].get("facts")]
            print(
                f"  {name:20s} general dev set: {overall.summary()};"
                f" answered from facts: {', '.join(from_facts) or 'none'}"
            )
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-qa", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    if not args.skip_import:
        bench_import(args.runs)
    if not args.skip_qa:
        bench_qa()


if __name__ == "__main__":
    main()
