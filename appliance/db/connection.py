"""What a connection is, whichever engine is behind it, and the one place SQLite ones are made.

Query functions (``appliance/db/queries``) take a :class:`Connection`: the SQLite connection
made here, or the PostgreSQL adapter in :mod:`appliance.db.postgres`. Both take the SQL with
``?`` / ``?N`` placeholders and return rows readable by position and by column name; the few
statements whose dialects differ pick their text with :class:`Variants`.

We use ``sqlean`` (the sqlean-py package): a drop-in ``sqlite3`` module with a modern SQLite
compiled in (FTS5 included) whose wheels for Linux, macOS and Windows allow loading extensions.
The stdlib ``sqlite3`` of many Pythons (this machine's included) is built without
``enable_load_extension``, which sqlite-vec needs. See README "Why sqlean".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, cast

import sqlean
import sqlite_vec

MAX_SQL_INT = 2**63 - 1  # larger Python ints cannot be bound as SQLite INTEGER
Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]


class Row(Protocol):
    """A result row: by position (``row[0]``) or by column name (``row["id"]``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...
    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    """The part of a DB-API connection the appliance uses, on either engine.

    ``dialect`` says which SQL it speaks. Transactions are explicit (``BEGIN``/``COMMIT``
    statements, :func:`transaction`, :func:`savepoint`): connections are in autocommit mode.
    """

    @property
    def dialect(self) -> Dialect: ...
    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, params: Params = (), /) -> Cursor: ...
    def executemany(self, sql: str, seq_of_params: Iterable[Params], /) -> Cursor: ...
    def close(self) -> None: ...


class Variants(NamedTuple):
    """One statement in each dialect, for where they differ (upserts with functions the other
    lacks, row locks, full-text search, pattern matching); everything else is written once."""

    sqlite: str
    postgresql: str

    def __call__(self, conn: Connection) -> str:
        return self.postgresql if conn.dialect == "postgresql" else self.sqlite


class PgError(Exception):
    """A PostgreSQL error surfaced by the adapter, with its SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class PgIntegrityError(PgError):
    """A constraint violation on PostgreSQL (unique, foreign key, check)."""


class RaceLost(Exception):
    """A write function found that a concurrent transaction got there first (a row it had
    checked was absent appeared before its own insert). Only possible on PostgreSQL, whose
    write runner rolls back and runs the function again (it then finds that row)."""

    sqlstate = "40001"  # handled like a serialization failure


# ``except IntegrityError:`` catches a constraint violation from either engine.
IntegrityError: tuple[type[Exception], ...] = (sqlean.IntegrityError, PgIntegrityError)
OperationalError = sqlean.OperationalError
DatabaseError = sqlean.DatabaseError


class _SqliteConnection(sqlean.Connection):  # type: ignore[misc]
    """sqlean's connection, named for its dialect (a class attribute: no cost per call)."""

    dialect: Dialect = "sqlite"


def connect(
    path: Path | str,
    *,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
    busy_timeout_ms: int = 5000,
    readonly: bool = False,
) -> Connection:
    """Open a SQLite connection with sqlite-vec loaded, WAL, foreign keys and a busy timeout.

    Autocommit mode (``isolation_level=None``): transactions are always explicit, so a
    forgotten COMMIT can never hold a write lock. Raises ``sqlean.OperationalError`` when
    the file cannot be opened.
    """
    conn = sqlean.connect(
        str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=busy_timeout_ms / 1000,
        factory=_SqliteConnection,
    )
    conn.row_factory = sqlean.Row
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return cast(Connection, conn)


def connect_readonly(path: Path) -> Connection:
    """A read-only connection that writes nothing, not even the WAL index: for a data dir on
    a read-only mount (``mode=ro``; when the ``-shm`` file cannot be made there, the file is
    opened ``immutable``, which is safe exactly because nothing can write it) and for
    inspecting a database that may be damaged. Raises ``sqlean.OperationalError`` when the
    file cannot be opened, FileNotFoundError when it does not exist."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    uri = Path(path).resolve().as_uri()
    last: Exception | None = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlean.connect(
            f"{uri}?{flags}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            factory=_SqliteConnection,
        )
        try:
            conn.row_factory = sqlean.Row
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            return cast(Connection, conn)
        except Exception as exc:
            conn.close()
            if not isinstance(exc, OperationalError):
                raise  # not a database, or damaged: another mode would not help
            last = exc
    assert last is not None
    raise last


@contextlib.contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """BEGIN [IMMEDIATE] ... COMMIT, rolled back on any exception.

    IMMEDIATE takes SQLite's write lock up front, so a read-then-write inside cannot fail
    half-way with SQLITE_BUSY on lock upgrade (PostgreSQL has no such mode: plain BEGIN).
    """
    immediate = immediate and conn.dialect == "sqlite"
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def savepoint(conn: Connection, name: str = "sp") -> Iterator[Connection]:
    """SAVEPOINT ... RELEASE inside an open transaction, rolled back to on any exception."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def versions(conn: Connection) -> dict[str, str]:
    if conn.dialect == "postgresql":
        row = conn.execute("SHOW server_version").fetchone()
        return {"postgresql": str(row[0]) if row else "unknown"}
    row = conn.execute("SELECT sqlite_version(), vec_version()").fetchone()
    assert row is not None
    return {"sqlite": row[0], "sqlite_vec": row[1]}
