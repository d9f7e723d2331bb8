"""Sentiment over HTTP on the real server: single-request latency and concurrent throughput.

Baseline in the same run: the same server with micro-batching off (one model call per
request, ``sentiment_max_batch = 1``). Prints medians, p99 and the batched/unbatched ratio.

Usage: python tests/bench/bench_sentiment_http.py [--requests 200] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # runnable as a plain script from a source checkout

from tests.support.live import LiveServer, live_server  # noqa: E402

TEXTS = [
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period.",
    "The company reported a net loss and cut its dividend.",
    "Shares were little changed after the annual meeting.",
    "Revenue beat estimates and the full-year outlook was raised.",
]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(srv: LiveServer, key: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    def one(i: int) -> float:
        started = time.perf_counter()
        status, body, _ = srv.request(
            "POST", "/v1/nlp/sentiment", {"text": TEXTS[i % len(TEXTS)]}, key=key
        )
        assert status == 200, body
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(n)))
    return n / (time.perf_counter() - started), latencies


def measure(batch: int, n: int, concurrency: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(
            Path(tmp) / "d",
            APPLIANCE_RATE_LIMIT_PER_SECOND="0",
            APPLIANCE_SENTIMENT_MAX_BATCH=str(batch),
            APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START="false",
        ) as srv,
    ):
        status, user, _ = srv.request(
            "POST",
            "/v1/users",
            {"email": "bench@example.com", "credits": 10**6},
            key=srv.admin_key,
        )
        assert status == 201, user
        key = user["api_key"]
        run(srv, key, 20, 1)  # warm-up
        _, single = run(srv, key, n, 1)
        rps, loaded = run(srv, key, n * 2, concurrency)
    return {
        "single_p50": statistics.median(single),
        "single_p99": p(single, 0.99),
        "rps": rps,
        "loaded_p50": statistics.median(loaded),
        "loaded_p99": p(loaded, 0.99),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    base = measure(1, args.requests, args.concurrency)
    batched = measure(32, args.requests, args.concurrency)
    for name, r in (("unbatched (baseline)", base), ("micro-batched", batched)):
        print(
            f"sentiment over HTTP, {name}: single request p50 {r['single_p50']:.1f} ms, "
            f"p99 {r['single_p99']:.1f} ms; {args.concurrency} concurrent: {r['rps']:.0f} req/s, "
            f"p50 {r['loaded_p50']:.1f} ms, p99 {r['loaded_p99']:.1f} ms"
        )
    print(
        f"micro-batched / unbatched throughput at {args.concurrency} concurrent: "
        f"{batched['rps'] / base['rps']:.2f}x"
    )


if __name__ == "__main__":
    main()
