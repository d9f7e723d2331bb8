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
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval import shared_edgar  # noqa: E402

from appliance.bootstrap import initialize  # noqa: E402
from appliance.db.connection import connect  # noqa: E402
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
            report = import_paths(conn, [filings], facts=facts)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-qa", action="store_true")
    args = parser.parse_args()
    bench_import(args.runs)


if __name__ == "__main__":
    main()
