"""Usage aggregated per day and endpoint (the console's usage chart)."""

from __future__ import annotations

from typing import Any

from appliance.db.connection import Connection


def daily(conn: Connection, user_id: int, since: str, until: str) -> list[dict[str, Any]]:
    """Credits kept (charged, not refunded) and calls answered per UTC day and endpoint, in
    ``[since, until)``, oldest day first. Refunded and rejected calls cost nothing and are
    counted apart."""
    rows = conn.execute(
        "SELECT substr(created_at, 1, 10) AS day, endpoint,"
        " sum(CASE WHEN status = 'charged' THEN cost ELSE 0 END) AS credits,"
        " sum(CASE WHEN status = 'charged' THEN 1 ELSE 0 END) AS calls,"
        " sum(CASE WHEN status <> 'charged' THEN 1 ELSE 0 END) AS free_calls"
        " FROM usage_events WHERE user_id = ? AND created_at >= ? AND created_at < ?"
        " GROUP BY day, endpoint ORDER BY day, endpoint",
        (user_id, since, until),
    ).fetchall()
    return [
        # int(): PostgreSQL sums to numeric (a Decimal in Python).
        {
            "day": r[0],
            "endpoint": r[1],
            "credits": int(r[2]),
            "calls": int(r[3]),
            "free_calls": int(r[4]),
        }
        for r in rows
    ]
