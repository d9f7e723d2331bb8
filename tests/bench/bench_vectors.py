"""Vector search latency at 100k synthetic chunks against an exact numpy scan baseline.

Run: ``python tests/bench/bench_vectors.py [N]`` (``make bench`` runs it). The baseline is
the memory-bandwidth limit: one float32 matrix-vector product over every row plus a top-k
selection, measured in the same run. The index answers the same queries with no filter,
with a date cutoff, and with a ticker + date filter (rows ordered by company and date make
that a contiguous slice). A sqlite-vec ``vec0`` full scan is shown for reference.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from appliance.db.connection import connect
from appliance.rag.vectors import (
    DIM,
    RowMeta,
    SearchFilter,
    VectorIndex,
    dequantize,
    quantize,
)

K = 5
COMPANIES = 500  # synthetic tickers, sizes skewed like real coverage
DAYS = (9_000, 20_300)  # 1994 .. 2025


def _median_ms(fn: Callable[[np.ndarray], object], queries: np.ndarray) -> float:
    for q in queries[:3]:
        fn(q)  # warm up
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(n: int = 100_000) -> None:
    rng = np.random.default_rng(2026)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs = dequantize(quantize(vecs))
    weights = 1.0 / np.arange(1, COMPANIES + 1)
    companies = rng.choice(COMPANIES, size=n, p=weights / weights.sum()) + 1
    days = rng.integers(*DAYS, size=n)
    rows = [
        RowMeta(i + 1, int(companies[i]), int(days[i]), int(i % 2) + 1, int(i % 20), i // 40)
        for i in range(n)
    ]
    queries = rng.standard_normal((60, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def baseline(q: np.ndarray) -> np.ndarray:
        scores = vecs @ q
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    index = VectorIndex()
    t = time.perf_counter()
    index.load(rows, vecs)
    load_s = time.perf_counter() - t
    cutoff = int(np.percentile(days, 60))
    mid_company = 20  # about 1/70 of the rows
    cases = {
        "index, no filter": SearchFilter(),
        "index, date cutoff": SearchFilter(max_day=cutoff),
        "index, ticker + date": SearchFilter(companies=frozenset({mid_company}), max_day=cutoff),
        "index, largest ticker + date": SearchFilter(companies=frozenset({1}), max_day=cutoff),
    }
    base = _median_ms(baseline, queries)
    print(
        f"vectors: n={n} dim={DIM} k={K} load={load_s:.2f}s"
        f" OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    print(f"  {'exact numpy scan (baseline)':32s} p50 {base:8.3f} ms   1.00x")
    for name, flt in cases.items():
        ms = _median_ms(lambda q, f=flt: index.search(q, K, f), queries)
        print(f"  {name:32s} p50 {ms:8.3f} ms   {ms / base:.2f}x")
    # Correctness spot check: the unfiltered index equals the baseline.
    for q in queries[:5]:
        assert [c - 1 for c, _ in index.search(q, K)] == baseline(q).tolist()

    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "v.db", synchronous="NORMAL")
        conn.execute(
            "CREATE VIRTUAL TABLE v USING vec0("
            "id INTEGER PRIMARY KEY, e int8[384] distance_metric=cosine)"
        )
        codes = quantize(vecs)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO v (id, e) VALUES (?, vec_int8(?))",
            ((i + 1, codes[i].tobytes()) for i in range(n)),
        )
        conn.execute("COMMIT")

        def vec0(q: np.ndarray) -> list[object]:
            return conn.execute(
                "SELECT id FROM v WHERE e MATCH vec_int8(?) AND k = ?",
                (quantize(q[None, :])[0].tobytes(), K),
            ).fetchall()

        ms = _median_ms(vec0, queries[:15])
        print(f"  {'sqlite-vec vec0 int8 full scan':32s} p50 {ms:8.3f} ms   {ms / base:.2f}x")
        conn.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
