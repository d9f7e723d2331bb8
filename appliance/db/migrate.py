"""Named, transactional migrations recorded in ``schema_migrations``.

Each ``NNNN_name.sql`` file in ``db/migrations/`` runs once, inside one transaction together
with the row that records it, so a failed migration leaves nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from appliance.db.connection import Connection, transaction
from appliance.db.queries import scalar
from appliance.paths import migrations_dir

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found = sorted(p for p in directory.iterdir() if _NAME.match(p.name))
    return [Migration(p.stem, p.read_text(encoding="utf-8")) for p in found]


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


def applied(conn: Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))"
    )
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(conn: Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in order; returns the names applied now (idempotent)."""
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


def pending(conn: Connection, directory: Path | None = None) -> list[str]:
    done = set(applied(conn))
    return [m.name for m in discover(directory) if m.name not in done]
