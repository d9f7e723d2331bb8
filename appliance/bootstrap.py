"""``appliance init``: data dir, migrations, install id, token secret, first admin.

Idempotent: running it again changes nothing and reveals no secret twice.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from appliance import accounts
from appliance.db.connection import connect, transaction
from appliance.db.migrate import migrate
from appliance.db.queries import meta
from appliance.db.queries import users as q
from appliance.settings import Settings


@dataclass
class InitResult:
    install_id: str
    migrations_applied: list[str] = field(default_factory=list)
    admin_email: str | None = None
    admin_api_key: str | None = None  # only when the admin was created just now


def initialize(settings: Settings) -> InitResult:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "inbox").mkdir(exist_ok=True)
    conn = connect(
        settings.db_path,
        synchronous=settings.db_synchronous,
        busy_timeout_ms=settings.db_busy_timeout_ms,
    )
    try:
        ran = migrate(conn)
        with transaction(conn):
            install_id = meta.put_if_absent(conn, "install_id", str(uuid.uuid4()))
            meta.put_if_absent(conn, "token_secret", secrets.token_hex(32))
            result = InitResult(install_id=install_id, migrations_applied=ran)
            if q.count_admins(conn) == 0:
                created = accounts.create_user(
                    conn, settings.admin_email, password=None, is_admin=True
                )
                result.admin_email = created.user.email
                result.admin_api_key = created.api_key
        return result
    finally:
        conn.close()
