"""Payments benchmark: how quickly the webhook answers Stripe, and license redemption cost.

In-process through the real app (TestClient, lifespan running, SQLite synchronous=FULL), in
one run:

1. Baseline: GET /healthz, and the authenticated GET /v1/me (one read).
2. POST /billing/webhook with a fresh, signed ``checkout.session.completed`` (signature check,
   JSON parse, one write that records the event and credits the pack): median and p99 latency,
   sequential; then deliveries/s with 16 concurrent senders (group commit), checked for
   exactness (every event credited once, the balance equals 200 x events).
3. The same deliveries again (duplicates): the fast path that answers redeliveries.
4. POST /billing/licenses/redeem (Ed25519 verify + one write), sequential.

Run: `make bench`, or `.venv/bin/python tests/bench/bench_payments.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.billing import licenses, stripe_signature
from appliance.bootstrap import initialize
from appliance.settings import load_settings

SECRET = "whsec_bench"


def _event(i: int, user_id: int) -> bytes:
    session = {
        "id": f"cs_bench_{i}",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": f"pi_bench_{i}",
        "client_reference_id": str(user_id),
        "metadata": {"pack": "credits_200"},
    }
    event = {
        "id": f"evt_bench_{i}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": session},
    }
    return json.dumps(event, indent=2).encode()


def _timed(fn: Callable[[], None], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _summary(name: str, samples: list[float], baseline: float | None = None) -> float:
    med = statistics.median(samples)
    p99 = sorted(samples)[max(0, int(len(samples) * 0.99) - 1)]
    ratio = f"  ({med / baseline:.1f}x healthz)" if baseline else ""
    print(f"{name:<44} median {med * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms{ratio}")
    return med


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 100 if args.quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        vendor = licenses.keygen(Path(tmp) / "vendor")
        settings = load_settings(
            data_dir=Path(tmp) / "data",
            load_models=False,
            access_log=False,
            db_synchronous="FULL",
            stripe_webhook_secret=SECRET,
            payment_provider="stripe",
            license_public_keys=[vendor.public_entry],
            rate_limit_per_second=0,
        )
        init = initialize(settings)
        assert init.admin_api_key
        admin = {"Authorization": f"Bearer {init.admin_api_key}"}
        signing_key = licenses.load_private_key(vendor.private_key)
        with TestClient(create_app(settings)) as c:
            me = c.get("/v1/me", headers=admin).json()
            for _ in range(200):  # warm-up: the first requests pay for imports and caches
                c.get("/healthz")
            base = _summary("GET /healthz", _timed(lambda: c.get("/healthz").raise_for_status(), n))
            _summary(
                "GET /v1/me", _timed(lambda: c.get("/v1/me", headers=admin).raise_for_status(), n)
            )

            payloads = [_event(i, me["id"]) for i in range(n)]
            it = iter(payloads)

            def deliver_next() -> None:
                payload = next(it)
                sig = stripe_signature.sign_header(SECRET, payload)
                r = c.post("/billing/webhook", content=payload, headers={"Stripe-Signature": sig})
                assert r.status_code == 200 and r.json()["result"] == "credited", r.text

            _summary("webhook, new event (sequential)", _timed(deliver_next, n), base)

            concurrent = [_event(n + i, me["id"]) for i in range(n)]
            results: list[str] = []
            lock = threading.Lock()

            def sender(chunk: list[bytes]) -> None:
                for payload in chunk:
                    sig = stripe_signature.sign_header(SECRET, payload)
                    r = c.post(
                        "/billing/webhook", content=payload, headers={"Stripe-Signature": sig}
                    )
                    with lock:
                        results.append(r.json()["result"])

            chunks = [concurrent[i::16] for i in range(16)]
            threads = [threading.Thread(target=sender, args=(ch,)) for ch in chunks]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            assert results.count("credited") == n, "each new event credited exactly once"
            balance = c.get("/v1/me", headers=admin).json()["purchased"]
            assert balance == me["purchased"] + 200 * 2 * n, balance
            print(f"{'webhook, 16 concurrent senders':<44} {n / elapsed:7.0f} deliveries/s")

            dup = iter(payloads)

            def deliver_dup() -> None:
                payload = next(dup)
                sig = stripe_signature.sign_header(SECRET, payload)
                r = c.post("/billing/webhook", content=payload, headers={"Stripe-Signature": sig})
                assert r.json()["result"] == "duplicate"

            _summary("webhook, redelivered event", _timed(deliver_dup, n), base)

            keys = iter(
                [
                    licenses.issue(signing_key, credits=5, install_id=init.install_id)
                    for _ in range(n)
                ]
            )

            def redeem_next() -> None:
                r = c.post(
                    "/billing/licenses/redeem", json={"license_key": next(keys)}, headers=admin
                )
                assert r.status_code == 200, r.text

            _summary("license redeem", _timed(redeem_next, n), base)


if __name__ == "__main__":
    main()
