"""The one way to run code against the database, whichever engine is behind it.

A *read function* or *write function* takes a :class:`~appliance.db.connection.Connection`
first and its own arguments after it. ``db.read(fn, ...)`` and ``db.write(fn, ...)`` run it,
and mypy checks the arguments against ``fn``'s signature (ParamSpec + Concatenate). A write
function runs inside one transaction that the database opens and commits around it; it never
commits itself, and may be run again from the start when PostgreSQL reports a conflict (so it
only touches the database).

- :class:`Database`, the server's handle, for the event loop: ``read``, ``read_long`` and
  ``write`` return futures (awaitable; ``asyncio.shield`` keeps a write going when its
  request is cancelled); ``write_later`` queues a write nobody waits for. ``db.sync`` is the
  same database for plain threads (the indexer), blocking.
- :class:`SyncDatabase`, the synchronous mode: ``db.sync``, and :func:`open_session` for the
  CLI, scripts and tests (one connection, no threads).

Engines: SQLite (:mod:`appliance.db.sqlite`: one writer thread with group commit) unless the
``database_url`` setting names PostgreSQL (:mod:`appliance.db.postgres`: a connection pool, the
engine's own concurrency).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from appliance.db.connection import Connection, Dialect

if TYPE_CHECKING:
    from appliance.db.storage import StorageFull
    from appliance.settings import Settings

__all__ = [
    "Database",
    "SyncDatabase",
    "open_database",
    "open_session",
    "self_contained",
]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def self_contained(fn: F) -> F:
    """Mark a write function that is atomic by itself: it either changes nothing when it
    raises (one statement, which the engine rolls back on its own) or wraps its several
    statements in its own savepoint. SQLite's writer then runs it without the per-write
    SAVEPOINT/RELEASE: two SQLite calls fewer, and each call hands the GIL to the event loop
    and back (the hot path of a billable request, see appliance/billing/quota.py)."""
    fn.__self_contained__ = True  # type: ignore[attr-defined]
    return fn


class SyncDatabase(Protocol):
    """Blocking reads and writes, for code that is not on the event loop."""

    @property
    def dialect(self) -> Dialect: ...

    def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(conn, *args, **kwargs)`` on a connection, outside any transaction."""
        ...

    def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(conn, *args, **kwargs)`` in a transaction of its own, committed on return."""
        ...


class Database(abc.ABC):
    """The server's database: thread-safe, one per process."""

    dialect: Dialect
    # Names this process among replicas sharing one PostgreSQL (empty on SQLite).
    replica_id: str = ""
    # Set while writes fail for lack of space (SQLite's file; PostgreSQL's disk is its
    # server's business), None once one lands again.
    storage_full: StorageFull | None = None

    def probe_storage(self, every_seconds: float = 1.0) -> None:
        """While writes are failing for lack of space, queue a small real write (at most
        once a second) so readiness notices when room is back. Nothing to do by default."""
        return

    @property
    @abc.abstractmethod
    def sync(self) -> SyncDatabase:
        """This database for plain threads (blocking)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the threads and pools (idempotent; the first write starts them too)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Finish queued writes and release every connection."""

    @property
    @abc.abstractmethod
    def writer_alive(self) -> bool:
        """False once writes can no longer be applied (SQLite's writer thread died)."""

    @abc.abstractmethod
    def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Run ``fn(conn, ...)`` on a reader thread, off the event loop."""

    @abc.abstractmethod
    def read_long(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Like :meth:`read`, on separate threads for long, CPU-heavy reads (a Q&A embeds
        and searches), so a burst of them never queues the short reads every request needs
        (authentication, quota) behind it."""

    @abc.abstractmethod
    def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Run the write function ``fn(conn, ...)`` in a transaction; the future resolves once
        it has committed. Cancelling the future before the write has started skips it."""

    @abc.abstractmethod
    def write_later(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Queue a write nobody waits for (still applied, in order on SQLite); a failure is
        logged."""


def open_database(
    settings: Settings,
    *,
    on_writer_stopped: Callable[[str], None] | None = None,
    on_storage: Callable[[StorageFull | None], None] | None = None,
) -> Database:
    """The server's database for ``settings``: PostgreSQL when ``database_url`` names it,
    else the SQLite file in the data dir. Not started yet (see :meth:`Database.start`)."""
    if settings.database_url:
        from appliance.db.postgres.database import PgDatabase

        return PgDatabase(settings)
    from appliance.db.sqlite import SqliteDatabase

    return SqliteDatabase(
        settings.db_path,
        synchronous=settings.db_synchronous,
        busy_timeout_ms=settings.db_busy_timeout_ms,
        readers=settings.db_readers,
        on_writer_stopped=on_writer_stopped,
        on_storage=on_storage,
    )


@contextlib.contextmanager
def open_session(settings: Settings) -> Iterator[SyncDatabase]:
    """One connection for a command or a script (no threads): each ``write`` is its own
    transaction. The database must exist (``appliance init`` / :func:`initialize`)."""
    if settings.database_url:
        from appliance.db.postgres.database import PgSession

        pg = PgSession(settings.database_url)
        try:
            yield pg
        finally:
            pg.close()
        return
    from appliance.db.sqlite import SqliteSession

    lite = SqliteSession.open(settings)
    try:
        yield lite
    finally:
        lite.close()
