"""``appliance db copy --to postgresql://...``: move a SQLite install to PostgreSQL, verified.

Every table of the SQLite file is copied with its ids (users, keys, balances, the ledger,
usage, idempotency records, payments, licenses, filings, sections, chunks, jobs, and the
tables later migrations add), the vectors from sqlite-vec's table into their plain column, in
one PostgreSQL transaction. Before it commits, the copy is checked against the source: the
row count of every table, each user's balances, each user's ledger and usage sums, and a
digest of all vectors; any difference rolls everything back. The target must be empty (a
database just created; it is migrated here) and no server may be using the SQLite file
(the copy takes its one-server lock).

While copying, the trigger that turns a charged usage event into its debit is disabled: the
balances being copied already include every debit.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.db.connection import Connection, connect, transaction
from appliance.db.migrate import migrate, pending
from appliance.db.queries import scalar
from appliance.errors import ApplianceError

__all__ = ["CopyFailed", "CopyReport", "copy_to_postgresql"]

# Not copied: the migration record (the target has its own) and a secret the target must not
# receive (old installs kept the token-signing key in meta; it now lives in a file).
_SKIP_TABLES = {"schema_migrations"}
_SKIP_META = {"token_secret"}
_VECTORS = "chunk_vectors"
_BATCH = 5000


class CopyFailed(ApplianceError):
    status = 409
    code = "copy_failed"


@dataclass
class CopyReport:
    tables: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "rows": sum(self.tables.values()),
            "verified": self.checks,
            "seconds": round(self.seconds, 2),
        }


def _tables(src: Connection) -> list[str]:
    """The source's ordinary tables, each after the tables it references (foreign keys)."""
    rows = src.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    virtual = [r[0] for r in rows if str(r[1]).upper().startswith("CREATE VIRTUAL")]
    plain = [
        r[0]
        for r in rows
        if r[0] not in virtual
        and r[0] not in _SKIP_TABLES
        and not any(r[0].startswith(v + "_") for v in virtual)  # virtual tables' shadows
    ]
    refs = {
        t: {r["table"] for r in src.execute(f'PRAGMA foreign_key_list("{t}")')} - {t} for t in plain
    }
    ordered: list[str] = []
    while len(ordered) < len(plain):
        ready = sorted(t for t in plain if t not in ordered and refs[t] <= set(ordered))
        if not ready:
            raise CopyFailed(f"foreign keys form a cycle among {sorted(set(plain) - set(ordered))}")
        ordered += ready
    return ordered


def _columns(src: Connection, dst: Connection, table: str) -> list[str]:
    source = [r["name"] for r in src.execute(f'PRAGMA table_info("{table}")')]
    target = {
        r[0]
        for r in dst.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " AND is_generated = 'NEVER'",
            (table,),
        )
    }
    if not target:
        raise CopyFailed(f"table {table} is missing in the PostgreSQL database")
    missing = [c for c in source if c not in target]
    if missing:
        raise CopyFailed(f"columns {missing} of {table} are missing in the PostgreSQL database")
    return source


def _copy_rows(
    dst: Any, table: str, columns: list[str], rows: Any, skip: Callable[[Any], bool]
) -> int:
    names = ", ".join(f'"{c}"' for c in columns)
    n = 0
    with dst.raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            if skip(row):
                continue
            copy.write_row(tuple(row))
            n += 1
    return n


def _verify(src: Connection, dst: Connection, tables: dict[str, int]) -> list[str]:
    checks: list[str] = []
    for table, copied in tables.items():
        source_rows = int(scalar(src, f'SELECT count(*) FROM "{table}"'))
        if table == "meta":
            source_rows -= len(
                src.execute(
                    f"SELECT key FROM meta WHERE key IN ({','.join('?' * len(_SKIP_META))})",
                    sorted(_SKIP_META),
                ).fetchall()
            )
        target_rows = int(scalar(dst, f'SELECT count(*) FROM "{table}"'))
        if not source_rows == copied == target_rows:
            raise CopyFailed(
                f"{table}: {source_rows} rows in SQLite, {copied} copied, {target_rows} in"
                " PostgreSQL"
            )
    checks.append(f"row counts of {len(tables)} tables")
    same: list[tuple[str, str]] = [
        (
            "balances of every user",
            "SELECT id, quota_remaining, allowance_remaining, allowance_period, quota_monthly,"
            " plan FROM users ORDER BY id",
        ),
        (
            "ledger sums of every user",
            "SELECT user_id, CAST(sum(delta) AS BIGINT), count(*) FROM credit_ledger"
            " GROUP BY user_id ORDER BY user_id",
        ),
        (
            "usage sums of every user and status",
            "SELECT user_id, status, CAST(sum(cost) AS BIGINT), count(*) FROM usage_events"
            " GROUP BY user_id, status ORDER BY user_id, status",
        ),
    ]
    for label, sql in same:
        a = [tuple(r) for r in src.execute(sql).fetchall()]
        b = [tuple(r) for r in dst.execute(sql).fetchall()]
        if a != b:
            raise CopyFailed(f"{label} differ after the copy")
        checks.append(label)
    return checks


def _vector_digest(conn: Connection) -> tuple[int, str]:
    digest = hashlib.sha256()
    n = 0
    for chunk_id, embedding in conn.execute(
        f"SELECT chunk_id, embedding FROM {_VECTORS} ORDER BY chunk_id"
    ):
        digest.update(int(chunk_id).to_bytes(8, "little") + bytes(embedding))
        n += 1
    return n, digest.hexdigest()


def copy_to_postgresql(
    sqlite_path: Path, url: str, *, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy the SQLite database at ``sqlite_path`` into the empty PostgreSQL at ``url``.
    Raises CopyFailed (nothing written) when the target is not empty or a check fails."""
    from appliance.db.postgres.database import PgSession

    started = time.perf_counter()
    src = connect(sqlite_path, readonly=True)
    target = PgSession(url)
    dst = target.conn
    try:
        if pending(src):
            raise CopyFailed("the SQLite database is not up to date: run `appliance init` first")
        migrate(dst)
        if scalar(dst, "SELECT count(*) FROM users") or scalar(dst, "SELECT count(*) FROM filings"):
            raise CopyFailed("the PostgreSQL database is not empty: copy into a new database")
        report = CopyReport()
        with transaction(dst):
            dst.execute("ALTER TABLE usage_events DISABLE TRIGGER usage_events_debit")
            for table in _tables(src):
                columns = _columns(src, dst, table)
                names = ", ".join(f'"{c}"' for c in columns)
                rows = src.execute(f'SELECT {names} FROM "{table}"')
                skip = (lambda r: r[0] in _SKIP_META) if table == "meta" else (lambda r: False)
                report.tables[table] = _copy_rows(target, table, columns, rows, skip)
                if progress:
                    progress(table, report.tables[table])
            vectors = src.execute(f"SELECT chunk_id, embedding FROM {_VECTORS}")
            report.tables[_VECTORS] = _copy_rows(
                target, _VECTORS, ["chunk_id", "embedding"], vectors, lambda r: False
            )
            if progress:
                progress(_VECTORS, report.tables[_VECTORS])
            dst.execute("ALTER TABLE usage_events ENABLE TRIGGER usage_events_debit")
            _restart_identities(dst)
            report.checks = _verify(src, dst, report.tables)
            if _vector_digest(src) != _vector_digest(dst):
                raise CopyFailed("the vectors differ after the copy")
            report.checks.append("digest of every vector")
        report.seconds = time.perf_counter() - started
        return report
    finally:
        src.close()
        target.close()


def _restart_identities(dst: Connection) -> None:
    """Identity columns continue after the copied ids (the next user gets max(id) + 1)."""
    for table, column in dst.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall():
        top = scalar(dst, f'SELECT max("{column}") FROM "{table}"')
        if top is not None:
            dst.execute("SELECT setval(pg_get_serial_sequence(?, ?), ?)", (table, column, int(top)))
