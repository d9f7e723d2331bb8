"""Embedder throughput: int8 vs fp32 in the same run, 256-token filing chunks, batch 32.

Runs the two models alternately (round robin) so that load from other processes hits both
alike, and prints medians and the int8/fp32 ratio. Also times a mixed-length pass over real
filing paragraphs (length-sorted batching), the indexer's actual workload.

Usage: python tests/bench/bench_embedder.py [--threads 2] [--rounds 7] [--models DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # runnable as a plain script from a source checkout

from appliance.nlp.embedder import Embedder  # noqa: E402
from appliance.nlp.paths import ModelPaths  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--spin", action="store_true", help="let onnxruntime threads spin")
    ap.add_argument("--models", type=Path, default=None)
    args = ap.parse_args()

    paths = ModelPaths.locate(args.models)
    kw = {"threads": args.threads, "spin": args.spin, "max_batch": args.batch}
    models = {
        "fp32": Embedder(paths.embedder, quantized=False, **kw),  # type: ignore[arg-type]
        "int8": Embedder(paths.embedder, quantized=True, **kw),  # type: ignore[arg-type]
    }
    text = (REPO / "models" / "calibration" / "filing_text.txt").read_text(encoding="utf-8")
    lines = [t for t in text.splitlines() if t.strip()]
    probe = models["int8"]
    full = [t for t in lines if probe.count_tokens(t) >= 256][: args.batch]
    if len(full) < args.batch:
        raise SystemExit(f"only {len(full)} texts of >= 256 tokens")

    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():
        m.embed(full)  # warm-up: first-run allocations
    for _ in range(args.rounds):
        for name, m in models.items():
            t0 = time.perf_counter()
            m.embed(full)
            times[name].append(time.perf_counter() - t0)
    ratios = [f / i for f, i in zip(times["fp32"], times["int8"], strict=True)]
    print(
        f"embedder, {args.batch} chunks x 256 tokens, {args.threads} threads, "
        f"{args.rounds} rounds (median):"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name}: {args.batch / med:6.1f} chunks/s  ({med * 1000:.0f} ms/batch)")
    print(
        f"  int8/fp32 speed ratio: {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )

    mixed: dict[str, float] = {}
    for name, m in models.items():
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            m.embed(lines)
            runs.append(time.perf_counter() - t0)
        mixed[name] = len(lines) / statistics.median(runs)
    print(
        f"mixed-length filing text ({len(lines)} texts, sorted batching): "
        f"fp32 {mixed['fp32']:.1f}/s, int8 {mixed['int8']:.1f}/s, "
        f"ratio {mixed['int8'] / mixed['fp32']:.2f}x"
    )


if __name__ == "__main__":
    main()
