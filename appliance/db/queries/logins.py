"""Failed-login counters (``login_failures``): per account and per client address."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.connection import Connection


@dataclass(frozen=True)
class Lock:
    scope: str
    subject: str
    failures: int
    locked_until: float | None


def locked_until(conn: Connection, keys: list[tuple[str, str]], now: float) -> float | None:
    """The latest lock still in force among ``keys`` ((scope, subject) pairs), or None."""
    latest: float | None = None
    for scope, subject in keys:
        row = conn.execute(
            "SELECT locked_until FROM login_failures WHERE scope = ? AND subject = ?"
            " AND locked_until > ?",
            (scope, subject, now),
        ).fetchone()
        if row is not None and (latest is None or row[0] > latest):
            latest = float(row[0])
    return latest


def record_failure(
    conn: Connection,
    scope: str,
    subject: str,
    now: float,
    window: float,
    limit: int,
    lockout: float,
) -> float | None:
    """Count one failure (a new window when the last one is over); lock the subject until
    ``now + lockout`` when the count reaches ``limit``. Returns the lock's end, if any."""
    row = conn.execute(
        "INSERT INTO login_failures (scope, subject, failures, window_start) VALUES (?, ?, 1, ?)"
        " ON CONFLICT (scope, subject) DO UPDATE SET"
        "  failures = CASE WHEN window_start <= ?3 - ?4 THEN 1 ELSE failures + 1 END,"
        "  window_start = CASE WHEN window_start <= ?3 - ?4 THEN ?3 ELSE window_start END"
        " RETURNING failures",
        (scope, subject, now, window),
    ).fetchone()
    if limit and int(row[0]) >= limit:
        until = now + lockout
        conn.execute(
            "UPDATE login_failures SET locked_until = ?, failures = 0, window_start = ?"
            " WHERE scope = ? AND subject = ?",
            (until, now, scope, subject),
        )
        return until
    return None


def clear(conn: Connection, scope: str, subject: str) -> bool:
    """Forget a subject's failures and lift its lock; True when there was a row."""
    cur = conn.execute(
        "DELETE FROM login_failures WHERE scope = ? AND subject = ?", (scope, subject)
    )
    return bool(cur.rowcount)


def purge(conn: Connection, now: float, window: float) -> int:
    """Drop rows whose window and lock are both over (guesses at random e-mails would
    otherwise grow the table without end)."""
    cur = conn.execute(
        "DELETE FROM login_failures WHERE window_start <= ? AND coalesce(locked_until, 0) <= ?",
        (now - window, now),
    )
    return int(cur.rowcount)


def locks(conn: Connection, now: float) -> list[Lock]:
    rows = conn.execute(
        "SELECT scope, subject, failures, locked_until FROM login_failures"
        " WHERE locked_until > ? ORDER BY locked_until",
        (now,),
    ).fetchall()
    return [Lock(r[0], r[1], int(r[2]), float(r[3])) for r in rows]
