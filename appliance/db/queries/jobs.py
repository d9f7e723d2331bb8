"""The background indexer's durable job queue (``index_jobs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection, Variants
from appliance.db.queries import LEASE_UNTIL, NOW

__all__ = [
    "ALL",
    "CANCELLED",
    "Job",
    "cancel",
    "cancel_requested",
    "claim_next",
    "enqueue",
    "finish",
    "get",
    "list_jobs",
    "live_jobs",
    "progress",
    "renew_lease",
    "requeue",
    "requeue_interrupted",
]

ALL = "*"  # the ticker of a job that indexes every imported filing not yet indexed
CANCELLED = "cancelled by the operator"  # the error of a cancelled (failed) job
_COLS = (
    "id, ticker, cik, status, source, phase, progress_done, progress_total, filings, chunks,"
    " attempts, error, requested_by, created_at, started_at, updated_at, finished_at,"
    " cancel_requested_at"
)


@dataclass(frozen=True)
class Job:
    id: int
    ticker: str
    cik: int | None
    status: str
    source: str | None
    phase: str | None
    progress_done: int
    progress_total: int
    filings: int
    chunks: int
    attempts: int
    error: str | None
    requested_by: int | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None
    cancel_requested_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "ticker": None if self.ticker == ALL else self.ticker,
            "status": self.status,
            "source": self.source,
            "phase": self.phase,
            "progress": {
                "done": self.progress_done,
                "total": self.progress_total,
                "filings": self.filings,
                "chunks": self.chunks,
            },
            "attempts": self.attempts,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "cancel_requested_at": self.cancel_requested_at,
        }


def _job(row: Any) -> Job:
    return Job(*tuple(row))


def get(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(f"SELECT {_COLS} FROM index_jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else _job(row)


def enqueue(
    conn: Connection, ticker: str, cik: int | None, requested_by: int | None
) -> tuple[Job, bool]:
    """The live (queued or running) job for ``ticker``, or a new queued one.

    Returns ``(job, created)``. A partial unique index guarantees one live job per ticker
    even if two requests race (both run inside the single writer anyway).
    """
    row = conn.execute(
        f"SELECT {_COLS} FROM index_jobs WHERE ticker = ? AND status IN ('queued', 'running')",
        (ticker,),
    ).fetchone()
    if row is not None:
        return _job(row), False
    row = conn.execute(
        f"INSERT INTO index_jobs (ticker, cik, requested_by) VALUES (?, ?, ?) RETURNING {_COLS}",
        (ticker, cik, requested_by),
    ).fetchone()
    return _job(row), True


# The oldest job that is queued, or running under a lease that has expired (its replica died
# mid-job). PostgreSQL: replicas claim concurrently; SKIP LOCKED lets each take a different job
# instead of waiting for the row another is claiming.
_NEXT = (
    "SELECT id FROM index_jobs WHERE status = 'queued'"
    f" OR (status = 'running' AND lease_expires_at < {NOW}) ORDER BY id LIMIT 1"
)
_CLAIM = (
    "UPDATE index_jobs SET status = 'running', attempts = attempts + 1, error = NULL,"
    f" started_at = coalesce(started_at, {NOW}), updated_at = {NOW},"
    " claimed_by = ?2, lease_expires_at = {lease}"
    " WHERE id = ({next}) RETURNING " + _COLS
)
_CLAIM_SQL = Variants(
    sqlite=_CLAIM.format(lease=LEASE_UNTIL.sqlite, next=_NEXT),
    postgresql=_CLAIM.format(lease=LEASE_UNTIL.postgresql, next=_NEXT + " FOR UPDATE SKIP LOCKED"),
)


def claim_next(conn: Connection, claimer: str = "", lease_seconds: float = 60.0) -> Job | None:
    """Mark the oldest claimable job running for ``claimer`` until ``lease_seconds`` from now
    (renewed by :func:`renew_lease` while it runs), and return it; None when there is none."""
    row = conn.execute(_CLAIM_SQL(conn), (float(lease_seconds), claimer)).fetchone()
    return None if row is None else _job(row)


def renew_lease(conn: Connection, job_id: int, lease_seconds: float) -> None:
    conn.execute(
        f"UPDATE index_jobs SET lease_expires_at = {LEASE_UNTIL(conn)}"
        " WHERE id = ?2 AND status = 'running'",
        (float(lease_seconds), job_id),
    )


# Running jobs whose process is gone: on SQLite every running job at start-up (one process);
# on PostgreSQL only those of replicas no longer registered (appliance/replicas.py).
_CANCEL_INTERRUPTED = Variants(
    sqlite=f"UPDATE index_jobs SET status = 'failed', error = ?, phase = NULL,"
    f" finished_at = {NOW}, updated_at = {NOW}"
    " WHERE status = 'running' AND cancel_requested_at IS NOT NULL",
    postgresql=f"UPDATE index_jobs SET status = 'failed', error = ?, phase = NULL,"
    f" finished_at = {NOW}, updated_at = {NOW}"
    " WHERE status = 'running' AND cancel_requested_at IS NOT NULL"
    " AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT id FROM replicas))",
)

_REQUEUE = Variants(
    sqlite=f"UPDATE index_jobs SET status = 'queued', phase = 'resuming', updated_at = {NOW}"
    " WHERE status = 'running'",
    postgresql=f"UPDATE index_jobs SET status = 'queued', phase = 'resuming', updated_at = {NOW}"
    " WHERE status = 'running'"
    " AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT id FROM replicas))",
)


def requeue_interrupted(conn: Connection) -> int:
    """Jobs left running by a crash or restart go back to the queue (indexing resumes),
    except those whose cancellation was asked for: they end cancelled."""
    conn.execute(_CANCEL_INTERRUPTED(conn), (CANCELLED,))
    return int(conn.execute(_REQUEUE(conn)).rowcount)


def requeue(conn: Connection, job_id: int) -> None:
    """A running job stopped by shutdown goes back to the queue, to resume at next start."""
    conn.execute(
        f"UPDATE index_jobs SET status = 'queued', phase = 'interrupted', updated_at = {NOW}"
        " WHERE id = ? AND status = 'running'",
        (job_id,),
    )


def progress(
    conn: Connection,
    job_id: int,
    *,
    phase: str | None = None,
    source: str | None = None,
    done: int | None = None,
    total: int | None = None,
    filings: int | None = None,
    chunks: int | None = None,
) -> None:
    conn.execute(
        "UPDATE index_jobs SET phase = coalesce(?, phase), source = coalesce(?, source),"
        " progress_done = coalesce(?, progress_done), progress_total = coalesce(?, progress_total),"
        " filings = coalesce(?, filings), chunks = coalesce(?, chunks),"
        f" updated_at = {NOW} WHERE id = ?",
        (phase, source, done, total, filings, chunks, job_id),
    )


def finish(conn: Connection, job_id: int, status: str, error: str | None = None) -> None:
    if status not in ("done", "failed"):
        raise ValueError(f"not a final status: {status}")
    conn.execute(
        f"UPDATE index_jobs SET status = ?, error = ?, phase = NULL,"
        f" finished_at = {NOW}, updated_at = {NOW} WHERE id = ?",
        (status, error, job_id),
    )


def live_jobs(conn: Connection) -> list[Job]:
    """Queued and running jobs, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLS} FROM index_jobs WHERE status IN ('queued', 'running') ORDER BY id"
    ).fetchall()
    return [_job(r) for r in rows]


def list_jobs(
    conn: Connection, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[Job]:
    where = "WHERE status = ?" if status else ""
    params: list[Any] = [status] if status else []
    rows = conn.execute(
        f"SELECT {_COLS} FROM index_jobs {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_job(r) for r in rows]


def cancel(conn: Connection, job_id: int) -> Job | None:
    """Cancel a job: a queued one ends now (failed, error :data:`CANCELLED`); a running one
    is marked, and the indexer running it stops after its current batch. A finished job is
    returned unchanged. None when there is no such job."""
    conn.execute(
        f"UPDATE index_jobs SET status = 'failed', error = ?, phase = NULL,"
        f" cancel_requested_at = {NOW}, finished_at = {NOW}, updated_at = {NOW}"
        " WHERE id = ? AND status = 'queued'",
        (CANCELLED, job_id),
    )
    conn.execute(
        f"UPDATE index_jobs SET cancel_requested_at = coalesce(cancel_requested_at, {NOW}),"
        f" updated_at = {NOW} WHERE id = ? AND status = 'running'",
        (job_id,),
    )
    return get(conn, job_id)


def cancel_requested(conn: Connection, job_id: int) -> bool:
    row = conn.execute(
        "SELECT cancel_requested_at IS NOT NULL FROM index_jobs WHERE id = ?", (job_id,)
    ).fetchone()
    return bool(row and row[0])
