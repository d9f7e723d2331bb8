"""The one place every SQLite connection is made.

We use ``sqlean`` (the sqlean-py package): a drop-in ``sqlite3`` module with a modern SQLite
compiled in (FTS5 included) whose wheels for Linux, macOS and Windows allow loading extensions.
The stdlib ``sqlite3`` of many Pythons (this machine's included) is built without
``enable_load_extension``, which sqlite-vec needs. See README "Why sqlean".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import sqlean
import sqlite_vec

MAX_SQL_INT = 2**63 - 1  # larger Python ints cannot be bound as SQLite INTEGER
Connection = Any  # sqlean.Connection: the binding ships no type stubs
IntegrityError = sqlean.IntegrityError
OperationalError = sqlean.OperationalError
DatabaseError = sqlean.DatabaseError


def connect(
    path: Path | str,
    *,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
    busy_timeout_ms: int = 5000,
    readonly: bool = False,
) -> Connection:
    """Open a connection with sqlite-vec loaded, WAL, foreign keys and a busy timeout.

    Autocommit mode (``isolation_level=None``): transactions are always explicit, so a
    forgotten COMMIT can never hold a write lock. Raises ``sqlean.OperationalError`` when
    the file cannot be opened.
    """
    conn = sqlean.connect(
        str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=busy_timeout_ms / 1000,
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
    return conn


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
            f"{uri}?{flags}", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlean.Row
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            return conn
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

    IMMEDIATE takes the write lock up front, so a read-then-write inside cannot fail
    half-way with SQLITE_BUSY on lock upgrade.
    """
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
    row = conn.execute("SELECT sqlite_version(), vec_version()").fetchone()
    return {"sqlite": row[0], "sqlite_vec": row[1]}
