"""The per-key rate limit across replicas: the token buckets live in PostgreSQL.

Each billable request takes its token with one statement (``queries/ratelimits.py``) on the
database's clock, so the limit holds across replicas exactly (not per replica), with no sync
interval to wait for. The buckets are not money: they are an UNLOGGED table written on
connections of their own that commit asynchronously (``synchronous_commit = off``), so a take
costs a round trip but no disk flush; a crash of the database empties them (every bucket full).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from psycopg_pool import ConnectionPool

from appliance.billing.ratelimit import Decision, decide
from appliance.db.postgres.connection import as_connection, connect_kwargs
from appliance.db.queries.ratelimits import take_token

__all__ = ["SharedRateLimiter"]


def _configure(raw: Any) -> None:
    raw.execute("SET synchronous_commit = off")


class SharedRateLimiter:
    """:class:`~appliance.billing.ratelimit.RateLimiter`'s decisions, from shared buckets."""

    def __init__(self, url: str, rate: float, burst: int, *, connections: int = 4) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=connections,
            kwargs=connect_kwargs(),
            configure=_configure,
            open=False,
            name="appliance-ratelimit",
        )
        self._threads = concurrent.futures.ThreadPoolExecutor(connections, "ratelimit")

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def start(self) -> None:
        if self.enabled:
            self._pool.open(wait=True, timeout=30)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.close()

    def _take(self, key: str) -> Decision:
        with self._pool.connection() as raw:
            tokens, allowed = take_token(as_connection(raw), key, self.rate, self.burst)
        return decide(allowed, tokens, self.rate, self.burst)

    async def take(self, key: str) -> Decision:
        """Take one token from ``key``'s bucket if there is one."""
        if not self.enabled:
            return Decision(True, self.burst, self.burst, 0, 0)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._take, key)
