"""The replica registry (PostgreSQL only): which replicas serve now, and recovery's lock.

A replica is alive while it holds the session advisory lock on its ``lock_key`` (taken
before its row is inserted, released by PostgreSQL when its connection or process dies).
"""

from __future__ import annotations

from appliance.db.connection import Connection
from appliance.db.queries import scalar

__all__ = ["RECOVERY_LOCK", "hold", "prune_dead", "recovery_lock", "register", "unregister"]

# pg_advisory_xact_lock key of "recovering what dead replicas left" ('appl' 'recv').
RECOVERY_LOCK = 0x6170706C_72656376


def hold(conn: Connection, lock_key: int) -> None:
    """Take the replica's liveness lock on ``conn`` (a session lock: kept until released)."""
    conn.execute("SELECT pg_advisory_lock(?)", (lock_key,))


def register(conn: Connection, replica_id: str, lock_key: int, host: str, pid: int) -> None:
    conn.execute(
        "INSERT INTO replicas (id, lock_key, host, pid) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET lock_key = excluded.lock_key",
        (replica_id, lock_key, host, pid),
    )


def unregister(conn: Connection, replica_id: str) -> None:
    conn.execute("DELETE FROM replicas WHERE id = ?", (replica_id,))


def recovery_lock(conn: Connection, *, wait: bool) -> bool:
    """Take the recovery lock for the rest of the transaction; with ``wait`` false, only if
    no other replica is recovering now (then False)."""
    if wait:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (RECOVERY_LOCK,))
        return True
    return bool(scalar(conn, "SELECT pg_try_advisory_xact_lock(?)", (RECOVERY_LOCK,)))


def prune_dead(conn: Connection) -> list[str]:
    """Delete the rows of replicas whose liveness lock is free (they are gone); returns their
    ids. Taking a dead replica's lock here is transaction-scoped: released at commit."""
    dead = [
        str(replica_id)
        for replica_id, lock_key in conn.execute("SELECT id, lock_key FROM replicas").fetchall()
        if scalar(conn, "SELECT pg_try_advisory_xact_lock(?)", (lock_key,))
    ]
    for replica_id in dead:
        unregister(conn, replica_id)
    return dead
