"""Making the database file of a new install, in one step.

The file is built beside its final name (migrations applied, install id set), closed cleanly
(so its WAL is folded in) and only then linked into place. So ``appliance.sqlite3`` exists
only once it is whole: a first start killed half-way leaves a ``.new-PID`` file that the next
start discards, never an empty or half-made database. That is what lets a 0-byte
``appliance.sqlite3`` be refused as damage rather than taken for a new install (which would
make a new install id and orphan the license keys issued for the old one).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

from appliance.db.connection import connect, transaction
from appliance.db.migrate import migrate
from appliance.db.queries import meta
from appliance.file_modes import create_private_file


def _discard(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_database(path: Path, **connect_kwargs: Any) -> list[str]:
    """Create the database at ``path`` (which must not exist) with every migration applied
    and an install id; returns the migrations applied. If another process created it
    meanwhile, theirs is kept and nothing is applied here."""
    for leftover in path.parent.glob(f".{path.name}.new-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            _discard(leftover)  # a first start that was cut short
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}")
    _discard(tmp)
    create_private_file(tmp)
    try:
        conn = connect(tmp, **connect_kwargs)
        try:
            ran = migrate(conn)
            with transaction(conn):
                meta.put_if_absent(conn, "install_id", str(uuid.uuid4()))
        finally:
            conn.close()  # the last connection: SQLite checkpoints and removes the WAL
        _sync(tmp)
        try:
            os.link(tmp, path)  # atomic, and never replaces a database that appeared
        except FileExistsError:
            return []
        _sync_dir(path.parent)
        return ran
    finally:
        _discard(tmp)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        _sync(directory)
