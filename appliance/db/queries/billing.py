"""Credits: balances, the credit ledger, usage events and idempotency records.

Every function that writes runs inside its caller's transaction (the writer thread's
savepoint, or ``transaction()`` in the CLI); none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection

# ----- the credit ledger -----

_LEDGER_COLS = "id, user_id, source, source_ref, pool, delta, balance_after, created_at"


@dataclass(frozen=True)
class LedgerRow:
    id: int
    user_id: int
    source: str
    source_ref: str
    pool: str
    delta: int
    balance_after: int
    created_at: str


def _ledger(row: Any) -> LedgerRow:
    return LedgerRow(
        id=row["id"],
        user_id=row["user_id"],
        source=row["source"],
        source_ref=row["source_ref"],
        pool=row["pool"],
        delta=row["delta"],
        balance_after=row["balance_after"],
        created_at=row["created_at"],
    )


def ledger_by_ref(conn: Connection, source: str, source_ref: str) -> LedgerRow | None:
    row = conn.execute(
        f"SELECT {_LEDGER_COLS} FROM credit_ledger WHERE source = ? AND source_ref = ?",
        (source, source_ref),
    ).fetchone()
    return None if row is None else _ledger(row)


def insert_ledger(
    conn: Connection,
    user_id: int,
    source: str,
    source_ref: str,
    delta: int,
    balance_after: int,
    pool: str = "purchased",
) -> LedgerRow | None:
    """The new row, or None when (source, source_ref) is already recorded."""
    row = conn.execute(
        "INSERT INTO credit_ledger (user_id, source, source_ref, pool, delta, balance_after)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, source_ref) DO NOTHING"
        f" RETURNING {_LEDGER_COLS}",
        (user_id, source, source_ref, pool, delta, balance_after),
    ).fetchone()
    return None if row is None else _ledger(row)


def ledger_for_user(
    conn: Connection, user_id: int, *, limit: int = 100, before_id: int | None = None
) -> list[LedgerRow]:
    rows = conn.execute(
        f"SELECT {_LEDGER_COLS} FROM credit_ledger WHERE user_id = ? AND id < ?"
        " ORDER BY id DESC LIMIT ?",
        (user_id, before_id if before_id is not None else 2**63 - 1, limit),
    ).fetchall()
    return [_ledger(r) for r in rows]


# ----- balances -----


def purchased_balance(conn: Connection, user_id: int) -> int | None:
    row = conn.execute("SELECT quota_remaining FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else int(row[0])


def add_purchased(conn: Connection, user_id: int, delta: int) -> int:
    """Move the purchased balance by ``delta`` (unconditionally); returns the new balance."""
    row = conn.execute(
        "UPDATE users SET quota_remaining = quota_remaining + ?,"
        " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ? RETURNING quota_remaining",
        (delta, user_id),
    ).fetchone()
    return int(row[0])
