"""Online backups of the SQLite file (SQLite's backup API: consistent while the app runs)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from appliance.db.connection import Connection, connect
from appliance.file_modes import create_private_file, private_dir


def backup_to(conn: Connection, dest: Path) -> Path:
    """Copy the live database behind ``conn`` into ``dest`` (a new file), page by page.

    Readers and the writer keep working meanwhile; the copy is a consistent snapshot.
    Raises FileExistsError rather than overwrite an existing file.
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
    finally:
        target.close()
    tmp.replace(dest)
    return dest


def default_backup_path(data_dir: Path, label: str = "manual") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1000:03d}"
    return data_dir / "backups" / f"appliance-{stamp}-{label}.sqlite3"
