"""Is the database sound, and do the books balance? (``appliance db check [--full]``, and the
bounded ``quick_check`` every start runs.)

The money invariant: for every user, each balance equals what the credit ledger granted minus
what the usage events spent (see :func:`appliance.db.queries.audit.balances`). Grants that
bypass the ledger, a refund applied twice, a spend without its event: any of them shows up
here as a user whose stored balance differs from the recomputed one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.db.connection import Connection, DatabaseError, OperationalError
from appliance.db.queries import audit
from appliance.errors import ApplianceError

# How often SQLite calls the progress handler (in virtual machine instructions): often enough
# to stop within a few milliseconds of the budget.
_PROGRESS_STEPS = 20_000


class DatabaseCorrupt(ApplianceError):
    """The database file fails SQLite's checks (or is not a database at all)."""

    status = 500
    code = "database_corrupt"


def corrupt(path: Path, finding: str) -> DatabaseCorrupt:
    return DatabaseCorrupt(
        f"the database {path} is damaged ({finding}); refusing to use it. Restore the latest "
        f"good backup with `appliance restore <backup>` (copies are in {path.parent}/backups/; "
        "`appliance db check --full` shows the damage)"
    )


def empty(path: Path) -> DatabaseCorrupt:
    return DatabaseCorrupt(
        f"the database {path} is an empty (0-byte) file, not a new install: starting afresh "
        "would make a new install id and orphan the license keys issued for this one. Restore "
        "the latest backup with `appliance restore <backup>`; if this install never held any "
        "data (a first start cut short), delete the file and start again"
    )


def quick_check(conn: Connection, budget_seconds: float) -> list[str] | None:
    """``PRAGMA quick_check`` for at most ``budget_seconds``: its findings (``["ok"]`` when
    sound), or None when it ran out of time (a big database on a slow disk: too long to hold
    up every start; ``db check --full`` checks it whole)."""
    deadline = time.monotonic() + budget_seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
    try:
        return audit.sqlite_check(conn, full=False)
    except OperationalError as exc:
        if "interrupt" in str(exc):
            return None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def ensure_sound(conn: Connection, path: Path, budget_seconds: float) -> bool | None:
    """Raise :class:`DatabaseCorrupt` unless a (bounded) quick_check passes; True when it
    passed, None when the budget ran out first (or was 0)."""
    if budget_seconds <= 0:
        return None
    try:
        findings = quick_check(conn, budget_seconds)
    except DatabaseError as exc:
        raise corrupt(path, str(exc)) from exc
    if findings is None:
        return None
    if findings != ["ok"]:
        raise corrupt(path, "; ".join(findings[:3]))
    return True


@dataclass
class CheckReport:
    full: bool
    sqlite: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    users: int = 0
    credits: int = 0  # purchased + allowance, over every user
    chunks: int = 0
    live_jobs: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def public(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "check": "integrity_check" if self.full else "quick_check",
            "sqlite": self.sqlite,
            "problems": self.problems,
            "users": self.users,
            "credits": self.credits,
            "chunks": self.chunks,
            "live_jobs": self.live_jobs,
            "seconds": round(self.seconds, 3),
        }


def check(conn: Connection, *, full: bool = False) -> CheckReport:
    """Every check, read-only: SQLite's own (``integrity_check`` with ``full``), foreign
    keys, the money invariant per user, and the index (as many vectors as chunks, every chunk
    in a section marked indexed)."""
    started = time.perf_counter()
    report = CheckReport(full=full)
    try:
        report.sqlite = audit.sqlite_check(conn, full=full)
    except DatabaseError as exc:
        report.sqlite = [str(exc)]
    if report.sqlite != ["ok"]:
        report.problems += [f"sqlite: {line}" for line in report.sqlite]
        report.seconds = time.perf_counter() - started
        return report  # the rest would read damaged pages
    for table, rowid, parent in audit.foreign_key_violations(conn):
        report.problems.append(f"foreign key: {table} row {rowid} has no {parent} row")
    for row in audit.balances(conn):
        report.users += 1
        report.credits += row.purchased + row.allowance
        if row.purchased != row.purchased_expected:
            report.problems.append(
                f"user {row.user_id} ({row.email}): purchased balance {row.purchased}, but the"
                f" ledger minus usage gives {row.purchased_expected}"
            )
        if row.allowance != row.allowance_expected:
            report.problems.append(
                f"user {row.user_id} ({row.email}): allowance {row.allowance}, but the"
                f" ledger minus usage gives {row.allowance_expected}"
            )
    index = audit.index_counts(conn)
    report.chunks, report.live_jobs = index.chunks, index.live_jobs
    if not index.chunks == index.vectors == index.marked:
        report.problems.append(
            f"index: {index.chunks} chunks, {index.vectors} vectors, {index.marked} chunks in"
            " sections marked indexed (all three must agree)"
        )
    if index.unmarked_chunks:
        report.problems.append(
            f"index: {index.unmarked_chunks} chunks of sections not marked indexed"
        )
    report.seconds = time.perf_counter() - started
    return report
