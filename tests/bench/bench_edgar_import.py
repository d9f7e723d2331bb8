"""Import time for every shared EDGAR filing, and the sections found per filing.

Baseline, measured in the same run: decompress + lxml-parse each document (the floor any
HTML-based import pays). Prints medians over the runs and the ratio import / baseline.

    python tests/bench/bench_edgar_import.py [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from appliance.bootstrap import initialize  # noqa: E402
from appliance.db.connection import connect  # noqa: E402
from appliance.db.queries import filings as fq  # noqa: E402
from appliance.edgar.importer import import_paths  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from tests.support.edgar_data import FILINGS, SUBMISSIONS, key, shared_filings  # noqa: E402


def baseline(paths: list[Path]) -> float:
    started = time.perf_counter()
    for p in paths:
        raw = gzip.decompress(p.read_bytes())
        lxml.html.document_fromstring(raw.replace(b"<?xml", b"<!--x", 1))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    paths = shared_filings()
    base_times: list[float] = []
    import_times: list[float] = []
    noop_times: list[float] = []
    per_file: dict[str, list[float]] = {}
    last_db = None
    for _ in range(args.runs):
        base_times.append(baseline(paths))
        tmp = Path(tempfile.mkdtemp(prefix="edgar-bench-"))
        settings = load_settings(data_dir=tmp / "d", load_models=False)
        initialize(settings)
        conn = connect(settings.db_path)
        report = import_paths(conn, [SUBMISSIONS, FILINGS])
        assert not report.failed, report.failed
        import_times.append(sum(f.seconds for f in report.imported))
        for f in report.imported:
            per_file.setdefault(key(Path(f.path)), []).append(f.seconds)
        noop_times.append(import_paths(conn, [FILINGS]).seconds)
        conn.close()
        last_db = settings.db_path
    base, full, noop = (statistics.median(x) for x in (base_times, import_times, noop_times))
    print(f"filings: {len(paths)} ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB gzipped)")
    print(f"baseline (gunzip + lxml parse), median of {args.runs}: {base:.2f} s")
    print(
        f"import (parse, split, store), median of {args.runs}:    {full:.2f} s  "
        f"= {full / base:.1f}x baseline"
    )
    print(f"re-import of the same files (no-op):              {noop:.3f} s")
    print()
    assert last_db is not None
    conn = connect(last_db)
    print(f"{'filing':63s} {'s':>5s}  sections (item:chars)")
    for row in sorted(fq.list_filings(conn, limit=1000), key=lambda r: r.source_path or ""):
        name = Path(row.source_path or "").name.removesuffix(".gz")
        sections = fq.filing_sections(conn, row.accession)
        items = " ".join(f"{s.item}:{s.char_count}" for s in sections)
        print(
            f"{row.ticker or 'CIK' + str(row.cik):6s}{name:52s} "
            f"{statistics.median(per_file[name]):5.2f}  {len(sections):2d}  {items}"
        )
    conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
