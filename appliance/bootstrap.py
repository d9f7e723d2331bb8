"""``appliance init``: data dir, migrations, install id, token secret, first admin.

Idempotent: running it again changes nothing and reveals no secret twice. Every run also
checks (and repairs) that only the owner can read the data dir: see ``file_modes``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from appliance import accounts, token_secret
from appliance.db.backup import backup_to, default_backup_path
from appliance.db.connection import connect, transaction
from appliance.db.migrate import applied, migrate, pending
from appliance.db.queries import meta
from appliance.db.queries import users as q
from appliance.file_modes import create_private_file, private_dir, secure_data_dir
from appliance.settings import Settings


@dataclass
class InitResult:
    install_id: str
    migrations_applied: list[str] = field(default_factory=list)
    admin_email: str | None = None
    admin_api_key: str | None = None  # only when the admin was created just now
    backup: Path | None = None  # the copy taken before upgrading an existing database


def initialize(settings: Settings) -> InitResult:
    secure_data_dir(settings.data_dir)
    private_dir(settings.data_dir / "inbox")
    # Created 0600 before SQLite opens it: SQLite would create it with the umask's mode, and
    # gives its -wal and -shm files the database file's mode.
    create_private_file(settings.db_path)
    conn = connect(
        settings.db_path,
        synchronous=settings.db_synchronous,
        busy_timeout_ms=settings.db_busy_timeout_ms,
    )
    try:
        upgrade = pending(conn)
        result_backup: Path | None = None
        if upgrade and applied(conn):
            # An existing database about to be migrated (an upgrade): keep a copy first, so a
            # failed or unwanted upgrade can be undone by restoring one file.
            result_backup = backup_to(
                conn, default_backup_path(settings.data_dir, f"pre-{upgrade[0]}")
            )
        ran = migrate(conn)
        with transaction(conn):
            install_id = meta.put_if_absent(conn, "install_id", str(uuid.uuid4()))
            result = InitResult(install_id=install_id, migrations_applied=ran, backup=result_backup)
            if q.count_admins(conn) == 0:
                created = accounts.create_user(
                    conn, settings.admin_email, password=None, is_admin=True
                )
                result.admin_email = created.user.email
                result.admin_api_key = created.api_key
        token_secret.ensure(settings.data_dir, conn)
        return result
    finally:
        conn.close()
