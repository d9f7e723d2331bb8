"""``appliance init``: data dir, migrations, install id, token secret, first admin.

Idempotent: running it again changes nothing and reveals no secret twice. Every run also
checks (and repairs) that only the owner can read the data dir: see ``file_modes``.

The commands that show the first admin's key (``init``, ``serve``) pass ``create_admin=False``
and create the admin with :mod:`appliance.admin_key`, which prints the key before the admin
exists: an interrupted first start can never leave an admin whose key nobody saw.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from appliance import accounts, token_secret
from appliance.db import check as db_check
from appliance.db import storage
from appliance.db.backup import backup_to, default_backup_path
from appliance.db.connection import Connection, DatabaseError, connect, transaction
from appliance.db.create import create_database
from appliance.db.migrate import applied, migrate, pending
from appliance.db.queries import meta
from appliance.db.queries import users as q
from appliance.db.storage import refuse_read_only
from appliance.file_modes import private_dir, secure_data_dir
from appliance.settings import Settings


@dataclass
class InitResult:
    install_id: str
    migrations_applied: list[str] = field(default_factory=list)
    admin_email: str | None = None
    admin_api_key: str | None = None  # only when the admin was created just now
    backup: Path | None = None  # the copy taken before upgrading an existing database


def initialize(settings: Settings, *, create_admin: bool = True) -> InitResult:
    """Create or upgrade the data dir and database. With ``create_admin`` (library callers,
    tests), an install without an admin gets one and its key is in the result.

    Raises DataDirReadOnly, StorageFull (a full disk, in one line), DatabaseCorrupt (a
    damaged or 0-byte database file), DataDirInsecure."""
    refuse_read_only(settings.data_dir, "the appliance")
    with storage.reported(settings.data_dir):
        return _initialize(settings, create_admin)


def _open_existing(settings: Settings) -> Connection:
    """The database of an existing install, refused when it is damaged (see db.check)."""
    path = settings.db_path
    if path.stat().st_size == 0:
        raise db_check.empty(path)
    try:
        conn = connect(
            path, synchronous=settings.db_synchronous, busy_timeout_ms=settings.db_busy_timeout_ms
        )
    except DatabaseError as exc:
        if storage.is_storage_error(exc):
            raise
        raise db_check.corrupt(path, str(exc)) from exc
    try:
        db_check.ensure_sound(conn, path, settings.db_quick_check_seconds)
    except BaseException:
        conn.close()
        raise
    return conn


def _initialize(settings: Settings, create_admin: bool) -> InitResult:
    secure_data_dir(settings.data_dir)
    private_dir(settings.data_dir / "inbox")
    made: list[str] = []
    if not settings.db_path.exists():
        made = create_database(
            settings.db_path,
            synchronous=settings.db_synchronous,
            busy_timeout_ms=settings.db_busy_timeout_ms,
        )
    conn = _open_existing(settings)
    try:
        upgrade = pending(conn)
        result_backup: Path | None = None
        if upgrade and applied(conn):
            # An existing database about to be migrated (an upgrade): keep a copy first, so a
            # failed or unwanted upgrade can be undone by restoring one file.
            result_backup = backup_to(
                conn, default_backup_path(settings.data_dir, f"pre-{upgrade[0]}")
            )
        ran = made + migrate(conn)
        with transaction(conn):
            install_id = meta.put_if_absent(conn, "install_id", str(uuid.uuid4()))
            result = InitResult(install_id=install_id, migrations_applied=ran, backup=result_backup)
            if create_admin and q.count_admins(conn) == 0:
                created = accounts.create_user(
                    conn, settings.admin_email, password=None, is_admin=True
                )
                result.admin_email = created.user.email
                result.admin_api_key = created.api_key
        token_secret.ensure(settings.data_dir, conn)
        return result
    finally:
        conn.close()
