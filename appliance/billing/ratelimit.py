"""A token bucket per API key, in front of billing: a request it refuses costs nothing.

Each key's bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a
billable request takes one. Buckets live in this process (the appliance is one process), in a
dict bounded by evicting buckets that have refilled completely (an idle key loses nothing).
Replicas on PostgreSQL share their buckets instead: :mod:`appliance.billing.shared_ratelimit`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple


class Decision(NamedTuple):  # a tuple: built on every billable request
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # until one token is available (0 when allowed)

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` fields (IETF httpapi-ratelimit-headers draft)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def decide(allowed: bool, tokens: float, rate: float, burst: int) -> Decision:
    """The decision and its headers for a bucket left with ``tokens`` after the take."""
    reset = math.ceil((burst - tokens) / rate)
    retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))
    return Decision(allowed, burst, int(tokens), reset, retry)


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill time]

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> Decision:
        """Take one token from ``key``'s bucket if there is one."""
        if not self.enabled:
            return Decision(True, self.burst, self.burst, 0, 0)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._evict(now)
                bucket = self._buckets[key] = [float(self.burst), now]
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            bucket[0] = tokens
        return decide(allowed, tokens, self.rate, self.burst)

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [k for k, (_, last) in self._buckets.items() if now - last >= full_after]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # all busy: drop the oldest-created bucket
            del self._buckets[next(iter(self._buckets))]
