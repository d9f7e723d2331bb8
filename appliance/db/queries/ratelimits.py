"""Token buckets shared by replicas (PostgreSQL only: the ``rate_limits`` table, 0070)."""

from __future__ import annotations

from appliance.db.connection import Connection

__all__ = ["take_token"]

# Refill by the time since the last take, on the database's clock (one clock for every
# replica), capped at the burst; then take one token if there is one. One statement: the
# row lock makes concurrent takes of one key from any replica queue up, each seeing the last.
_REFILL = (
    "LEAST(?2::float8, b.tokens"
    " + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)) * ?3::float8)"
)
_TAKE = (
    "INSERT INTO rate_limits AS b (key, tokens, allowed, updated_at)"
    " VALUES (?1, ?2::float8 - 1, true, statement_timestamp())"
    " ON CONFLICT (key) DO UPDATE SET"
    f" tokens = {_REFILL} - CASE WHEN {_REFILL} >= 1 THEN 1 ELSE 0 END,"
    f" allowed = {_REFILL} >= 1,"
    " updated_at = statement_timestamp()"
    " RETURNING tokens, allowed"
)


def take_token(conn: Connection, key: str, rate: float, burst: int) -> tuple[float, bool]:
    """Take one token from ``key``'s bucket if there is one: (tokens left, allowed)."""
    row = conn.execute(_TAKE, (key, float(burst), float(rate))).fetchone()
    assert row is not None
    return float(row[0]), bool(row[1])
