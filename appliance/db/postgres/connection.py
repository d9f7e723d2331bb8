"""PostgreSQL connections that speak the appliance's query functions (psycopg 3).

The query functions are written once with SQLite's ``?`` and ``?N`` placeholders; here they
become PostgreSQL's own ``$N`` (psycopg's RawCursor sends them to the server as they are, so
``%`` in SQL needs no escaping), translated once per distinct statement. Rows read by position
and by column name, as ``sqlean.Row`` does. Constraint violations surface as
:class:`~appliance.db.connection.PgIntegrityError`, which ``except IntegrityError`` catches on
either engine.

Why psycopg 3: the maintained driver of the PostgreSQL project's ecosystem, with a binary wheel
that bundles libpq (nothing to install for SQLite-only users), a real connection pool
(psycopg_pool), server-side parameters, automatic prepared statements and LISTEN/NOTIFY.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, cast

import psycopg
from psycopg import RawCursor
from psycopg.pq import TransactionStatus

from appliance.db.connection import Connection, Cursor, Dialect, Params, PgIntegrityError

__all__ = ["PgConnection", "PgRow", "as_connection", "connect", "connect_kwargs", "translate"]


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """``?`` / ``?N`` placeholders to ``$N``, leaving string literals, quoted identifiers
    and comments alone. A bare ``?`` takes the number after the largest used so far (SQLite's
    rule), so mixing the two forms means the same on both engines."""
    out: list[str] = []
    i, n, highest = 0, len(sql), 0
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == c:
                    if end + 1 < n and sql[end + 1] == c:  # '' or "" inside the quotes
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif c == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            number = int(sql[i + 1 : j]) if j > i + 1 else highest + 1
            highest = max(highest, number)
            out.append(f"${number}")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


class PgRow(tuple[Any, ...]):
    """A result row readable as ``row[0]`` and ``row["name"]`` (like sqlean.Row)."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    attrs = {"__slots__": (), "_names": names, "_index": {n: i for i, n in enumerate(names)}}
    return cast(type[PgRow], type("PgRow", (PgRow,), attrs))


def _row_factory(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    return _row_class(tuple(d.name for d in description))


def connect_kwargs() -> dict[str, Any]:
    """How every connection is made (the pool's and single ones alike): autocommit, so
    transactions are explicit statements as on SQLite; rows by name and position."""
    return {"autocommit": True, "cursor_factory": RawCursor, "row_factory": _row_factory}


def connect(url: str, **options: Any) -> psycopg.Connection[Any]:
    """One psycopg connection made as :func:`connect_kwargs` says."""
    return psycopg.Connection.connect(url, **connect_kwargs(), **options)


class PgConnection:
    """A psycopg connection seen through the :class:`Connection` protocol."""

    dialect: Dialect = "postgresql"

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Params = (), /) -> Cursor:
        cur = self.raw.cursor()
        try:
            cur.execute(translate(sql), params or None)
        except psycopg.IntegrityError as exc:
            raise PgIntegrityError(str(exc), exc.sqlstate) from exc
        return cast(Cursor, cur)

    def executemany(self, sql: str, seq_of_params: Iterable[Params], /) -> Cursor:
        cur = self.raw.cursor()
        try:
            cur.executemany(translate(sql), seq_of_params)
        except psycopg.IntegrityError as exc:
            raise PgIntegrityError(str(exc), exc.sqlstate) from exc
        return cast(Cursor, cur)

    def close(self) -> None:
        self.raw.close()


def as_connection(raw: psycopg.Connection[Any]) -> Connection:
    return cast(Connection, PgConnection(raw))
