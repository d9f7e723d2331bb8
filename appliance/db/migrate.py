"""Named, transactional migrations recorded in ``schema_migrations``, for either engine.

One list: each ``NNNN_name.sql`` in ``db/migrations/`` runs once, in name order, inside one
transaction together with the row that records it, so a failed migration leaves nothing
behind. That file is SQLite's. Where PostgreSQL's SQL differs (types, a table SQLite rebuilds
to change a constraint, PL/pgSQL triggers), ``db/migrations/postgresql/NNNN_name.sql`` is used
instead on PostgreSQL; without one, the SQLite file runs there as it is (plain DDL usually
does). A migration for one engine only has an SQL file of comments for the other.

PostgreSQL: replicas starting together migrate once (an advisory lock held while migrating;
the second finds everything applied).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from appliance.db.connection import Connection, Dialect, transaction
from appliance.db.queries import scalar
from appliance.paths import migrations_dir

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# pg_advisory_lock key of "the database is being migrated" ('appl' 'migr' in ASCII).
MIGRATE_LOCK = 0x6170706C_6D696772


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str  # SQLite's
    postgresql: str | None = None  # PostgreSQL's, where it differs

    def sql_for(self, dialect: Dialect) -> str:
        if dialect == "postgresql" and self.postgresql is not None:
            return self.postgresql
        return self.sql


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found = sorted(p for p in directory.iterdir() if _NAME.match(p.name))
    variants = directory / "postgresql"
    out = []
    for p in found:
        pg = variants / p.name
        out.append(
            Migration(
                p.stem,
                p.read_text(encoding="utf-8"),
                pg.read_text(encoding="utf-8") if pg.is_file() else None,
            )
        )
    return out


def _split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (``executescript`` would commit on its own)."""
    import sqlean

    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlean.complete_statement(buf):
            if buf.strip():
                statements.append(buf)
            buf = ""
    if buf.strip():
        statements.append(buf)
    return statements


_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
    " applied_at TEXT NOT NULL DEFAULT {now})"
)
_SQLITE_NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ'))"
_PG_NOW = "(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"


def applied(conn: Connection) -> list[str]:
    if conn.dialect == "postgresql":
        if scalar(conn, "SELECT to_regclass('schema_migrations') IS NULL"):
            return []  # created by migrate(), under its lock
    else:
        conn.execute(_CREATE_TABLE.format(now=_SQLITE_NOW))
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(conn: Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in order; returns the names applied now (idempotent)."""
    if conn.dialect == "postgresql":
        return _migrate_postgresql(conn, discover(directory))
    done = set(applied(conn))
    todo = [m for m in discover(directory) if m.name not in done]
    if not todo:
        return []
    # SQLite's procedure for rebuilding a table (create, copy, drop, rename): with foreign keys
    # on, dropping the old table would cascade into the tables that reference it. The pragma is
    # a no-op inside a transaction, so it is switched around them, and each migration checks
    # the keys itself before it commits.
    fk_on = bool(scalar(conn, "PRAGMA foreign_keys"))
    conn.execute("PRAGMA foreign_keys = OFF")
    ran: list[str] = []
    try:
        for migration in todo:
            with transaction(conn):
                for statement in _split_statements(migration.sql):
                    conn.execute(statement)
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"{migration.name} breaks foreign keys: {list(broken[0])}")
                conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (migration.name,))
            ran.append(migration.name)
    finally:
        if fk_on:
            conn.execute("PRAGMA foreign_keys = ON")
    return ran


def _migrate_postgresql(conn: Connection, migrations: list[Migration]) -> list[str]:
    from appliance.db.postgres.scripts import run_script

    conn.execute("SELECT pg_advisory_lock(?)", (MIGRATE_LOCK,))
    try:
        conn.execute(_CREATE_TABLE.format(now=_PG_NOW))
        done = set(applied(conn))
        ran: list[str] = []
        for migration in migrations:
            if migration.name in done:
                continue
            with transaction(conn):
                try:
                    run_script(conn, migration.sql_for("postgresql"))
                except Exception as exc:
                    if migration.postgresql is None:
                        raise RuntimeError(
                            f"migration {migration.name} has no PostgreSQL variant"
                            f" (migrations/postgresql/{migration.name}.sql) and its SQLite SQL"
                            f" failed on PostgreSQL: {exc}"
                        ) from exc
                    raise
                conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (migration.name,))
            ran.append(migration.name)
        return ran
    finally:
        conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATE_LOCK,))


def pending(conn: Connection, directory: Path | None = None) -> list[str]:
    done = set(applied(conn))
    return [m.name for m in discover(directory) if m.name not in done]
