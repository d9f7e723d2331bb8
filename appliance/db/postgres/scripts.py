"""Running an SQL script (a migration) on a PostgreSQL connection as it is written."""

from __future__ import annotations

from appliance.db.connection import Connection
from appliance.db.postgres.connection import PgConnection


def run_script(conn: Connection, sql: str) -> None:
    """Execute every statement of ``sql`` in the connection's open transaction.

    Sent as one simple query without parameters: PostgreSQL parses the statements itself
    (dollar-quoted function bodies included), and nothing is taken for a placeholder.
    """
    if not isinstance(conn, PgConnection):
        raise TypeError("run_script needs a PostgreSQL connection")
    conn.raw.execute(sql.encode("utf-8"), prepare=False)
