"""Named leases on background work (``background_leases``): one replica at a time does it."""

from __future__ import annotations

from appliance.db.connection import Connection
from appliance.db.queries import LEASE_UNTIL, NOW

__all__ = ["release", "take"]


def take(conn: Connection, name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``seconds`` from now; False while
    another holder's lease on it runs. One statement, so two replicas asking at once cannot
    both get it (the row's primary key decides; the loser's update finds the winner's row)."""
    row = conn.execute(
        "INSERT INTO background_leases AS held (name, holder, expires_at)"
        f" VALUES (?2, ?3, {LEASE_UNTIL(conn)})"
        " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
        " expires_at = excluded.expires_at"
        f" WHERE held.holder = excluded.holder OR held.expires_at < {NOW}"
        " RETURNING holder",
        (float(seconds), name, holder),
    ).fetchone()
    return row is not None


def release(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up (the work is done for now): another replica may take it at once."""
    conn.execute("DELETE FROM background_leases WHERE name = ? AND holder = ?", (name, holder))
