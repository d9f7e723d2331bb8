"""All SQL of the appliance, as plain functions taking a connection first."""

from __future__ import annotations

from typing import Any

from appliance.db.connection import Connection, Params, Variants

# Now as a stored TEXT timestamp (PostgreSQL has a strftime of the same format, migration 0001).
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ')"
# "now + ?1 seconds" as a stored TEXT timestamp (it compares with the schema's others as text),
# on the database's clock, one clock for every replica: the end of a lease (a claimed index
# job, background work).
LEASE_UNTIL = Variants(
    sqlite="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?1 || ' seconds')",
    postgresql="to_char((statement_timestamp() + make_interval(secs => ?1))"
    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
)


def scalar(conn: Connection, sql: str, params: Params = ()) -> Any:
    """The first column of the first row of a query that always returns one (a count, or
    an UPDATE ... RETURNING of a row that exists). Raises LookupError when it returned none."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"no row from: {sql}")
    return row[0]


def row_fields(row: Any) -> dict[str, Any]:
    """A result row as ``{column: value}``, to build a dataclass whose fields are the columns.

    (A sqlean.Row iterates over its values, not its keys.)
    """
    return dict(zip(row.keys(), tuple(row), strict=True))
