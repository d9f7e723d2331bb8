"""Sentiment throughput: sentences/s at batch sizes 1 and 64, and a long-document pass.

Baseline in the same run: one sentence per call (what an unbatched API would do). Prints
medians and the batched/unbatched ratio.

Usage: python tests/bench/bench_sentiment.py [--threads 2] [--rounds 5] [--models DIR]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # runnable as a plain script from a source checkout

from appliance.nlp.paths import ModelPaths  # noqa: E402
from appliance.nlp.sentiment import SentimentModel  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", type=Path, default=None)
    args = ap.parse_args()

    model = SentimentModel(
        ModelPaths.locate(args.models).sentiment, threads=args.threads, max_batch=args.batch
    )
    data = REPO / "models" / "sentiment" / "data"
    with (data / "formal_dev.csv").open(encoding="utf-8") as f:
        formal = [r["text"] for r in csv.DictReader(f)]
    edgar = (data / "edgar_sentences.txt").read_text(encoding="utf-8").splitlines()
    sentences = (formal + edgar)[: args.batch * 4]

    model.probabilities(sentences[:8])  # warm-up
    single: list[float] = []
    batched: list[float] = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for s in sentences[: args.batch]:
            model.probabilities([s])
        single.append(args.batch / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        model.probabilities(sentences)
        batched.append(len(sentences) / (time.perf_counter() - t0))
    s1, sb = statistics.median(single), statistics.median(batched)
    print(f"sentiment ({model.name}), {args.threads} threads, {args.rounds} rounds (median):")
    print(f"  one sentence per call:   {s1:7.1f} sentences/s")
    print(f"  batches of {args.batch:<3d}:          {sb:7.1f} sentences/s")
    print(f"  batched/unbatched ratio: {sb / s1:.2f}x")

    document = " ".join(edgar[:200])
    t0 = time.perf_counter()
    (result,) = model.score([document])
    dt = time.perf_counter() - t0
    print(
        f"  one document of {len(result.sentences)} sentences: {dt * 1000:.0f} ms -> {result.label}"
    )


if __name__ == "__main__":
    main()
