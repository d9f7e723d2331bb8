"""The credit ledger: every credit grant, recorded exactly once per (source, source_ref).

The ledger is the audit trail of where credits came from (monthly allowance renewals, Stripe
payments, license keys, admin grants, refunds of failed requests); spends are recorded as
usage events (:mod:`appliance.billing.usage`). ``users.quota_remaining`` holds the purchased
balance, and each purchased-pool ledger row carries that balance after it was applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.billing.errors import InsufficientCredits
from appliance.db.connection import Connection, RaceLost
from appliance.db.queries import billing as q
from appliance.errors import NotFound

LEDGER_SOURCES = ("monthly", "stripe", "license", "admin", "refund")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    user_id: int
    source: str
    source_ref: str
    delta: int
    balance_after: int
    created_at: str

    @classmethod
    def of(cls, row: q.LedgerRow) -> LedgerEntry:
        return cls(
            id=row.id,
            user_id=row.user_id,
            source=row.source,
            source_ref=row.source_ref,
            delta=row.delta,
            balance_after=row.balance_after,
            created_at=row.created_at,
        )


def add_credits(
    conn: Connection,
    user_id: int,
    delta: int,
    source: str,
    source_ref: str,
    *,
    allow_negative: bool = False,
) -> LedgerEntry | None:
    """Apply ``delta`` to the user's purchased credits and record it in the ledger.

    A write function: it runs inside the caller's transaction (``await ctx.db.write(add_credits,
    ...)`` or ``transaction(conn)`` in the CLI), so the balance change and its ledger row commit
    together or not at all.

    Returns None, changing nothing, when (source, source_ref) was already recorded: this is
    what makes webhook credits and license redemptions exactly-once.

    Raises ValueError for an unknown source, an empty source_ref or a zero delta; NotFound for
    an unknown user; InsufficientCredits when a negative delta would take the purchased balance
    below zero and ``allow_negative`` is false (with it, the balance may go negative and every
    spend is refused until the user has topped up past zero).
    """
    if source not in LEDGER_SOURCES:
        raise ValueError(f"unknown ledger source {source!r}; expected one of {LEDGER_SOURCES}")
    if not source_ref:
        raise ValueError("source_ref must name the payment, license or grant it records")
    if delta == 0:
        raise ValueError("a ledger entry must move the balance")
    # The user's row first: concurrent grants to one user queue here (PostgreSQL), and each
    # then sees the ledger as the one before it left it.
    balance = q.lock_purchased_balance(conn, user_id)
    if balance is None:
        raise NotFound(f"no user with id {user_id}")
    if q.ledger_by_ref(conn, source, source_ref) is not None:
        return None
    if delta < 0 and balance + delta < 0 and not allow_negative:
        raise InsufficientCredits(
            f"cannot remove {-delta} credits: the purchased balance is {balance}",
            details={"balance": balance, "delta": delta},
        )
    after = q.add_purchased(conn, user_id, delta)
    row = q.insert_ledger(conn, user_id, source, source_ref, delta, after)
    if row is None:
        # Taken since the check above by another user's transaction (PostgreSQL only):
        # the write runs again and returns None then.
        raise RaceLost(f"ledger reference {source}:{source_ref} was recorded meanwhile")
    return LedgerEntry.of(row)
