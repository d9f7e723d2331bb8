"""PostgreSQL behind :class:`~appliance.db.database.Database`: a pool, the engine's concurrency.

SQLite needs one writer thread (one write lock per file); PostgreSQL locks rows, so here every
read and write runs on its own pooled connection, on a thread of one of three small pools
(short reads, long reads, writes), and PostgreSQL's own group commit shares WAL flushes between
concurrent commits. Each write is one ``BEGIN ... COMMIT`` transaction at READ COMMITTED; the
statements that must not race across replicas lock what they read (a spend locks the user's
row: ``FOR UPDATE`` in ``queries/billing.py``; a job claim uses ``FOR UPDATE SKIP LOCKED``).

A write function that checks and then inserts (a webhook event id, an Idempotency-Key, a live
job per ticker) can lose a race to another replica: the loser's INSERT meets the winner's
unique key. Such a transaction is rolled back and the write function run again from the start
(a few times, with a short random pause), and this time it finds the winner's row and answers
as it would have on SQLite (a duplicate, a replay, the existing job). The same retry covers
serialization failures and deadlocks. So write functions only touch the database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from appliance.db.connection import Connection, Dialect, transaction
from appliance.db.database import Database, SyncDatabase
from appliance.db.postgres.connection import as_connection, connect, connect_kwargs

if TYPE_CHECKING:
    from appliance.settings import Settings

__all__ = ["PgDatabase", "PgSession", "run_write"]

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("appliance.db")

# unique_violation, serialization_failure, deadlock_detected
RETRY_SQLSTATES = frozenset({"23505", "40001", "40P01"})
WRITE_ATTEMPTS = 6


def _retryable(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) in RETRY_SQLSTATES


def run_write(conn: Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """``fn(conn, *args)`` in a transaction of its own, run again from the start when it lost
    a race to another transaction (see the module docstring)."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with transaction(conn):
                return fn(conn, *args)
        except Exception as exc:
            if attempt + 1 < WRITE_ATTEMPTS and _retryable(exc) and not conn.in_transaction:
                time.sleep(random.uniform(0, 0.001 * 2**attempt))
                continue
            raise
    raise AssertionError("unreachable")


def _call(fn: Callable[..., T], kwargs: dict[str, Any]) -> Callable[..., T]:
    return functools.partial(fn, **kwargs) if kwargs else fn


class PgDatabase(Database):
    """The server's handle on PostgreSQL. Thread-safe; one per process.

    ``replica_id`` names this process in the database: every pooled connection carries it
    (``appliance.replica``), and the rows that need an owner (a charge in flight, a claimed
    job) default to it, so recovery can tell a live replica's work from a dead one's.
    """

    dialect: Dialect = "postgresql"

    def __init__(self, settings: Settings, *, replica_id: str | None = None) -> None:
        assert settings.database_url
        self.url = settings.database_url
        self.replica_id = replica_id or uuid.uuid4().hex
        size = settings.database_pool_size
        self.pool = ConnectionPool(
            self.url,
            min_size=min(2, size),
            max_size=size,
            kwargs=connect_kwargs(),
            configure=self._configure,
            open=False,
            name=f"appliance-{self.replica_id[:8]}",
        )
        readers = settings.db_readers
        self._read_pool = concurrent.futures.ThreadPoolExecutor(readers, "db-read")
        self._long_read_pool = concurrent.futures.ThreadPoolExecutor(2, "db-read-long")
        self._write_pool = concurrent.futures.ThreadPoolExecutor(
            max(2, size - readers - 2), "db-write"
        )
        self._sync = _PgSync(self)
        self._start_lock = threading.Lock()
        self._started = False
        self._closed = False

    def _configure(self, raw: psycopg.Connection[Any]) -> None:
        raw.execute(
            "SELECT set_config('appliance.replica', $1, false),"
            " set_config('application_name', $2, false)",
            (self.replica_id, f"appliance {self.replica_id[:8]}"),
        )

    # ----- lifecycle -----
    def start(self) -> None:
        with self._start_lock:
            if not self._started:
                self.pool.open(wait=True, timeout=30)
                self._started = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for executor in (self._read_pool, self._long_read_pool, self._write_pool):
            executor.shutdown(wait=True)
        self.pool.close()

    @property
    def writer_alive(self) -> bool:
        return not self._closed

    @property
    def sync(self) -> SyncDatabase:
        return self._sync

    # ----- running functions -----
    def _read_now(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if not self._started:
            self.start()
        with self.pool.connection() as raw:
            return fn(as_connection(raw), *args)

    def _write_now(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if not self._started:
            self.start()
        with self.pool.connection() as raw:
            return run_write(as_connection(raw), fn, args)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("database is closed")

    def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        self._check_open()
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._read_pool, self._read_now, _call(fn, kwargs), args)

    def read_long(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        self._check_open()
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._long_read_pool, self._read_now, _call(fn, kwargs), args)

    def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        self._check_open()
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._write_pool, self._write_now, _call(fn, kwargs), args)

    def write_later(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self._check_open()
        future = self._write_pool.submit(self._write_now, _call(fn, kwargs), args)
        future.add_done_callback(_log_failure)


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a queued write failed", exc_info=future.exception())


class _PgSync:
    """:class:`PgDatabase` for plain threads: each call borrows a pooled connection."""

    dialect: Dialect = "postgresql"

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return self._db._read_now(_call(fn, kwargs), args)

    def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return self._db._write_now(_call(fn, kwargs), args)


class PgSession:
    """The synchronous mode on one PostgreSQL connection (CLI commands, scripts, tests)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.raw = connect(url)
        self.conn = as_connection(self.raw)

    def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return fn(self.conn, *args, **kwargs)

    def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return run_write(self.conn, _call(fn, kwargs), args)

    def close(self) -> None:
        self.raw.close()
