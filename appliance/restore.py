"""``appliance restore BACKUP``: put a backup back as the live database, safely.

The file is verified first (an SQLite database that passes ``integrity_check``, made by this
appliance, by this version or an older one). The restore refuses while a server holds the data
dir (it takes the server's lock for its whole run, so none can start meanwhile either), copies
the database being replaced aside into ``backups/``, and then copies the backup *into* the live
database with SQLite's backup API: one transaction, so an interrupted restore leaves the old
database intact. An older backup is migrated afterwards like any upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec

from appliance.db.backup import backup_to, default_backup_path
from appliance.db.connection import Connection, DatabaseError, connect
from appliance.db.migrate import discover
from appliance.errors import ApplianceError
from appliance.instance import InstanceLock

_HEADER = b"SQLite format 3\x00"

# progress(pages copied, total pages)
OnPages = Callable[[int, int], None]


class InvalidBackup(ApplianceError):
    status = 400
    code = "invalid_backup"


@dataclass
class BackupInfo:
    path: Path
    size: int
    install_id: str | None
    migrations: list[str]
    users: int
    filings: int

    def public(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.size,
            "install_id": self.install_id,
            "migrations": len(self.migrations),
            "last_migration": self.migrations[-1] if self.migrations else None,
            "users": self.users,
            "filings": self.filings,
        }


@dataclass
class RestoreResult:
    restored: BackupInfo
    replaced_install_id: str | None
    kept_aside: Path
    migrations_applied: list[str] = field(default_factory=list)


def open_readonly(path: Path) -> Connection:
    """A read-only connection that never writes to the file (no WAL switch, no journal)."""
    conn = sqlean.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    return conn


def verify(path: Path) -> BackupInfo:
    """Check that ``path`` is a sound appliance database this version can use.

    Raises InvalidBackup naming what is wrong.
    """
    if not path.is_file():
        raise InvalidBackup(f"{path} is not a file")
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(len(_HEADER)) != _HEADER:
            raise InvalidBackup(f"{path} is not an SQLite database")
    try:
        conn = open_readonly(path)
    except DatabaseError as exc:
        raise InvalidBackup(f"{path} cannot be opened: {exc}") from None
    try:
        problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise InvalidBackup(f"{path} is damaged: {'; '.join(problems)}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"schema_migrations", "meta", "users"} <= tables:
            raise InvalidBackup(f"{path} is an SQLite database, but not an appliance's")
        migrations = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]
        known = {m.name for m in discover()}
        newer = [m for m in migrations if m not in known]
        if newer:
            raise InvalidBackup(
                f"{path} was made by a newer version of the appliance (migration {newer[0]}); "
                "restore it with that version"
            )
        row = conn.execute("SELECT value FROM meta WHERE key = 'install_id'").fetchone()
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        filings = (
            conn.execute("SELECT count(*) FROM filings").fetchone()[0] if "filings" in tables else 0
        )
    except DatabaseError as exc:
        raise InvalidBackup(f"{path} cannot be read: {exc}") from None
    finally:
        conn.close()
    return BackupInfo(path, size, row[0] if row else None, migrations, int(users), int(filings))


def restore(
    data_dir: Path,
    db_path: Path,
    backup: Path,
    *,
    on_pages: OnPages | None = None,
    after: Callable[[], list[str]] | None = None,
) -> RestoreResult:
    """Replace the database at ``db_path`` with ``backup``; ``after`` runs (still holding the
    server lock) once it is in place and returns the migrations it applied.

    Raises AlreadyRunning while a server serves the data dir, InvalidBackup for a bad file.
    """
    lock = InstanceLock(data_dir)
    lock.acquire()
    try:
        info = verify(backup)
        live = connect(db_path)
        try:
            row = live.execute("SELECT value FROM meta WHERE key = 'install_id'").fetchone()
            aside = backup_to(live, default_backup_path(data_dir, "before-restore"))
            source = open_readonly(backup)
            try:

                def progress(status: int, remaining: int, total: int) -> None:
                    if on_pages is not None:
                        on_pages(total - remaining, total)

                # Into the live file: the destination is written in one transaction, and
                # connections other processes hold see either the old or the new database.
                source.backup(live, pages=256, progress=progress)
            finally:
                source.close()
        finally:
            live.close()
        applied = after() if after is not None else []
    finally:
        lock.release()
    return RestoreResult(info, row[0] if row else None, aside, applied)
