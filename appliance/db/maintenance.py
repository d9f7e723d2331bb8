"""Housekeeping: statistics and checkpoints."""

from __future__ import annotations

import time
from typing import Any

from appliance.db.connection import Connection


def optimize(conn: Connection) -> dict[str, Any]:
    """ANALYZE, PRAGMA optimize, and a WAL checkpoint; returns what was done and how long.
    (PostgreSQL: ANALYZE; autovacuum does the rest.)"""
    started = time.perf_counter()
    conn.execute("ANALYZE")
    if conn.dialect == "postgresql":
        return {"analyzed": True, "seconds": round(time.perf_counter() - started, 3)}
    conn.execute("PRAGMA optimize")
    row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert row is not None
    busy, wal_pages, moved = tuple(row)
    return {
        "analyzed": True,
        "optimized": True,
        "wal_checkpoint": {"busy": busy, "wal_pages": wal_pages, "checkpointed": moved},
        "seconds": round(time.perf_counter() - started, 3),
    }
