"""Online backups of the SQLite file (SQLite's backup API: consistent while the app runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from appliance.db.check import DatabaseCorrupt
from appliance.db.connection import Connection, DatabaseError, connect
from appliance.db.queries import audit
from appliance.file_modes import create_private_file, private_dir


def backup_to(conn: Connection, dest: Path) -> Path:
    """Copy the live database behind ``conn`` into ``dest`` (a new file), page by page.

    Readers and the writer keep working meanwhile; the copy is a consistent snapshot, and it
    is kept only if it passes ``PRAGMA integrity_check``. Raises FileExistsError rather than
    overwrite an existing file, DatabaseCorrupt when the copy is damaged.
    """
    if dest.exists():
        raise FileExistsError(f"backup target exists: {dest}")
    private_dir(dest.parent)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)  # left by an interrupted backup
    create_private_file(tmp)  # 0600 before SQLite writes a page: it is the whole database
    target = connect(tmp)
    try:
        conn.backup(target, pages=1024, sleep=0.001)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        # A copy is only worth keeping if it can be restored: check every page and index of
        # it (the pages come verbatim from the source, so this also catches a damaged one).
        findings = audit.sqlite_check(target, full=True)
    except DatabaseError as exc:
        findings = [str(exc)]
    finally:
        target.close()
    if findings != ["ok"]:
        tmp.unlink(missing_ok=True)
        raise DatabaseCorrupt(
            f"the backup copy failed integrity_check ({'; '.join(findings[:3])}), so the "
            "database itself is damaged; nothing was written. Restore an earlier backup with "
            "`appliance restore <backup>`"
        )
    tmp.replace(dest)
    return dest


def default_backup_path(data_dir: Path, label: str = "manual") -> Path:
    # Microseconds: names sort in time order (the digits were once nanoseconds mod 1000,
    # which sorted backups of the same second at random).
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return data_dir / "backups" / f"appliance-{stamp}-{label}.sqlite3"


def list_backups(backups_dir: Path) -> list[Path]:
    """The backups in a folder, oldest first (by the time they were written)."""
    if not backups_dir.is_dir():
        return []
    found = [p for p in backups_dir.glob("appliance-*.sqlite3") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def prune(backups_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``backups_dir``; returns those deleted.

    Every ``appliance-*.sqlite3`` there counts (manual, pre-upgrade and pre-restore copies
    alike); files of other names are never touched.
    """
    if keep < 1:
        raise ValueError("keep at least one backup")
    found = list_backups(backups_dir)
    doomed = found[: max(0, len(found) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
