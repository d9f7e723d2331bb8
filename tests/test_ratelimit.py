"""The token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from appliance.billing.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("k").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.take("k")
    assert (refused.remaining, refused.retry_after, refused.reset_seconds) == (0, 1, 2)
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "2",
    }
    clock.now += 0.5  # one token back
    assert limiter.take("k").allowed and not limiter.take("k").allowed
    clock.now += 60  # refills to the burst, not beyond
    assert [limiter.take("k").allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.take("other").allowed  # buckets are per key


def test_bounded_memory_and_off() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock=clock, max_keys=3)
    for key in "abc":
        limiter.take(key)
    clock.now += 10  # all full again: evicted when room is needed, losing nothing
    limiter.take("d")
    assert len(limiter._buckets) == 1
    for key in "efg":
        limiter.take(key)
    assert len(limiter._buckets) <= 3
    off = RateLimiter(0, 5, clock=clock)
    assert not off.enabled and all(off.take("k").allowed for _ in range(100))
    with pytest.raises(ValueError):
        RateLimiter(-1, 5)
