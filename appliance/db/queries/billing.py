"""Credits: balances, the credit ledger, usage events and idempotency records.

Every function that writes runs inside its caller's transaction (the writer thread's
savepoint, or ``transaction()`` in the CLI); none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection, Variants
from appliance.db.queries import row_fields, scalar

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
    return LedgerRow(**row_fields(row))


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


_LOCK_USER = Variants(
    sqlite="SELECT quota_remaining FROM users WHERE id = ?",
    postgresql="SELECT quota_remaining FROM users WHERE id = ? FOR UPDATE",
)


def lock_purchased_balance(conn: Connection, user_id: int) -> int | None:
    """:func:`purchased_balance`, locking the user's row until the transaction ends (on
    PostgreSQL; SQLite's writer runs one transaction at a time anyway), so that what the
    caller checks next cannot change before it writes."""
    row = conn.execute(_LOCK_USER(conn), (user_id,)).fetchone()
    return None if row is None else int(row[0])


def add_purchased(conn: Connection, user_id: int, delta: int) -> int:
    """Move the purchased balance by ``delta`` (unconditionally); returns the new balance."""
    return int(
        scalar(
            conn,
            "UPDATE users SET quota_remaining = quota_remaining + ?,"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ? RETURNING quota_remaining",
            (delta, user_id),
        )
    )


# ----- spends -----


@dataclass(frozen=True, slots=True)
class Charge:
    """One billable request's claim on a user's credits."""

    user_id: int
    endpoint: str
    cost: int
    period: str  # the allowance period ('YYYY-MM', UTC) the spend falls in
    request_id: str = ""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Balances:
    allowance_remaining: int
    allowance_period: str | None
    purchased: int
    quota_monthly: int
    plan: str


def balances(conn: Connection, user_id: int) -> Balances | None:
    row = conn.execute(
        "SELECT allowance_remaining, allowance_period, quota_remaining, quota_monthly, plan"
        " FROM users WHERE id = ?",
        (user_id,),
    ).fetchone()
    if row is None:
        return None
    return Balances(row[0], row[1], row[2], row[3], row[4])


_CHARGE_SQL = (
    "INSERT INTO usage_events (user_id, endpoint, request_id, idempotency_key, cost,"
    " from_allowance, allowance_period, quota_before, quota_after, status)"
    " SELECT id, ?2, ?3, ?4, ?5, {smaller}(?5, allowance_remaining), allowance_period,"
    " allowance_remaining + quota_remaining, allowance_remaining + quota_remaining - ?5,"
    " 'charged'"
    " FROM users WHERE id = ?1 AND allowance_period = ?6 AND (?5 = 0 OR"
    " (quota_remaining >= 0 AND allowance_remaining + quota_remaining >= ?5)){lock}"
    " RETURNING id, from_allowance, quota_before, quota_after"
)
# PostgreSQL runs spends concurrently: the user's row is locked before the balances are read,
# so a second spend waits and then sees (and re-checks) the first one's debit.
_CHARGE = Variants(
    sqlite=_CHARGE_SQL.format(smaller="min", lock=""),
    postgresql=_CHARGE_SQL.format(smaller="LEAST", lock=" FOR UPDATE"),
)


def charge(conn: Connection, c: Charge) -> tuple[int, int, int, int] | None:
    """Spend ``c.cost`` credits, the allowance first, in one statement: insert the charged
    usage event, computed from the user's row and only if that row covers the cost; the
    ``usage_events_debit`` trigger (migration 0002) applies the debit in the same statement.

    Matches only when the allowance belongs to ``c.period`` (else renew it first), the
    purchased balance is not negative and allowance + purchased covers the cost. Returns
    (usage id, from_allowance, quota_before, quota_after), or None when nothing was spent.
    """
    row = conn.execute(
        _CHARGE(conn), (c.user_id, c.endpoint, c.request_id, c.idempotency_key, c.cost, c.period)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def renew_allowance(
    conn: Connection, user_id: int, period: str, free_monthly: int | None = None
) -> int | None:
    """Reset the allowance to the monthly size if it belongs to an earlier period; returns
    the new allowance, or None when it was already current (or the user is unknown). With
    ``free_monthly``, users of the free plan get that size (and keep it as quota_monthly)."""
    row = conn.execute(
        "UPDATE users SET"
        # (The CAST only tells PostgreSQL the type of a parameter that may be NULL.)
        " quota_monthly = CASE WHEN CAST(?3 AS BIGINT) IS NOT NULL AND plan = 'free' THEN ?3"
        " ELSE quota_monthly END,"
        " allowance_remaining = CASE WHEN ?3 IS NOT NULL AND plan = 'free' THEN ?3"
        " ELSE quota_monthly END,"
        " allowance_period = ?1"
        " WHERE id = ?2 AND allowance_period IS DISTINCT FROM ?1 RETURNING allowance_remaining",
        (period, user_id, free_monthly),
    ).fetchone()
    return None if row is None else int(row[0])


def give_back(
    conn: Connection, user_id: int, allowance: int, purchased: int, period: str | None
) -> tuple[int, int, bool]:
    """Return credits taken by a spend. The allowance part goes back only while the allowance
    is still that of ``period`` (a renewed allowance is already full). Returns the new
    (allowance, purchased) and whether the allowance part was given back."""
    row = conn.execute(
        "UPDATE users SET"
        " allowance_remaining = allowance_remaining"
        "   + CASE WHEN allowance_period IS NOT DISTINCT FROM ?3 THEN ?1 ELSE 0 END,"
        " quota_remaining = quota_remaining + ?2 WHERE id = ?4"
        " RETURNING allowance_remaining, quota_remaining,"
        " CASE WHEN allowance_period IS NOT DISTINCT FROM ?3 THEN 1 ELSE 0 END",
        (allowance, purchased, period, user_id),
    ).fetchone()
    if row is None:
        raise LookupError(f"no user with id {user_id}")
    return int(row[0]), int(row[1]), bool(row[2])


def set_plan_allowance(conn: Connection, plan: str, monthly: int) -> int:
    """Give every user of ``plan`` the monthly allowance size ``monthly`` (from the next
    renewal on); returns how many users changed."""
    cur = conn.execute(
        "UPDATE users SET quota_monthly = ? WHERE plan = ? AND quota_monthly != ?",
        (monthly, plan, monthly),
    )
    return int(cur.rowcount)


# ----- usage events -----

_USAGE_COLS = (
    "e.id, e.user_id, u.email, e.endpoint, e.request_id, e.idempotency_key, e.cost,"
    " e.from_allowance, e.quota_before, e.quota_after, e.status, e.status_code,"
    " e.duration_ms, e.created_at, e.finished_at"
)
USAGE_FIELDS = tuple(c.strip().split(".")[1] for c in _USAGE_COLS.split(","))


def insert_usage(
    conn: Connection,
    charge: Charge,
    *,
    status: str,
    quota_before: int,
    quota_after: int,
    from_allowance: int = 0,
    status_code: int | None = None,
) -> int:
    """Record a usage event that moves no credits by itself (a rejection: status 'rejected');
    a charged one is inserted by :func:`charge`. Returns its id."""
    return int(
        scalar(
            conn,
            "INSERT INTO usage_events (user_id, endpoint, request_id, idempotency_key, cost,"
            " from_allowance, allowance_period, quota_before, quota_after, status, status_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                charge.user_id,
                charge.endpoint,
                charge.request_id,
                charge.idempotency_key,
                charge.cost,
                from_allowance,
                charge.period,
                quota_before,
                quota_after,
                status,
                status_code,
            ),
        )
    )


def finish_usage(conn: Connection, usage_id: int, status_code: int, duration_ms: float) -> None:
    conn.execute(
        "UPDATE usage_events SET status_code = ?, duration_ms = ?,"
        " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ?",
        (status_code, duration_ms, usage_id),
    )


def finish_usages(conn: Connection, finishes: list[tuple[int, float, int]]) -> None:
    """Many :func:`finish_usage` at once: (status code, duration ms, usage id) rows."""
    conn.executemany(
        "UPDATE usage_events SET status_code = ?, duration_ms = ?,"
        " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ?",
        finishes,
    )


@dataclass(frozen=True)
class ChargedUsage:
    user_id: int
    cost: int
    from_allowance: int
    allowance_period: str | None
    idempotency_key: str | None


def mark_refunded(
    conn: Connection, usage_id: int, status_code: int, duration_ms: float | None
) -> ChargedUsage | None:
    """Flip a charged event to refunded (once); None when it was not charged."""
    row = conn.execute(
        "UPDATE usage_events SET status = 'refunded', status_code = ?, duration_ms = ?,"
        " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ? AND status = 'charged'"
        " RETURNING user_id, cost, from_allowance, allowance_period, idempotency_key",
        (status_code, duration_ms, usage_id),
    ).fetchone()
    return None if row is None else ChargedUsage(row[0], row[1], row[2], row[3], row[4])


# On PostgreSQL a charge in flight may belong to a live replica: only those of replicas no
# longer registered (or of none) are orphans.
_UNFINISHED = Variants(
    sqlite="SELECT id FROM usage_events WHERE status = 'charged' AND status_code IS NULL"
    " ORDER BY id",
    postgresql="SELECT id FROM usage_events WHERE status = 'charged' AND status_code IS NULL"
    " AND (owner IS NULL OR owner NOT IN (SELECT id FROM replicas)) ORDER BY id",
)

_CHARGED_COLS = "SELECT user_id, cost, from_allowance, allowance_period, idempotency_key"
# On PostgreSQL two replicas may finish the same event at once: the row lock makes the second
# wait and then find it no longer charged (SQLite's single writer serialises them anyway).
_LOCK_CHARGED = Variants(
    sqlite=f"{_CHARGED_COLS} FROM usage_events WHERE id = ? AND status = 'charged'",
    postgresql=f"{_CHARGED_COLS} FROM usage_events WHERE id = ? AND status = 'charged' FOR UPDATE",
)


def mark_unbilled(
    conn: Connection, usage_id: int, status: str, status_code: int, duration_ms: float
) -> ChargedUsage | None:
    """Turn a charged event into a non-billable outcome (``status``, cost 0, balance after =
    before), once; returns what the charge took (to give back), or None when the event is not
    charged. Two statements: run it inside the caller's write transaction."""
    row = conn.execute(_LOCK_CHARGED(conn), (usage_id,)).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE usage_events SET status = ?, status_code = ?, duration_ms = ?,"
        " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ'), cost = 0, from_allowance = 0,"
        " quota_after = quota_before WHERE id = ? AND status = 'charged'",
        (status, status_code, duration_ms, usage_id),
    )
    return ChargedUsage(row[0], row[1], row[2], row[3], row[4])


def unfinished_charges(conn: Connection) -> list[int]:
    """Charged events whose request never finished (the process stopped mid-request)."""
    return [int(r[0]) for r in conn.execute(_UNFINISHED(conn)).fetchall()]


def usage_for_user(
    conn: Connection,
    user_id: int,
    *,
    since: str | None = None,
    until: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The user's events, newest first; ``since`` inclusive, ``until`` exclusive (UTC
    timestamps in the stored format), ``before_id`` the pagination cursor."""
    rows = conn.execute(
        f"SELECT {_USAGE_COLS} FROM usage_events e JOIN users u ON u.id = e.user_id"
        " WHERE e.user_id = ? AND e.id < ? AND e.created_at >= ? AND e.created_at < ?"
        " ORDER BY e.id DESC LIMIT ?",
        (
            user_id,
            before_id if before_id is not None else 2**63 - 1,
            since or "",
            until or "~",
            limit,
        ),
    ).fetchall()
    return [dict(zip(USAGE_FIELDS, r, strict=True)) for r in rows]


def iter_usage(conn: Connection, *, since: str | None = None, user_id: int | None = None) -> Any:
    """Every event (oldest first), optionally from ``since`` and of one user; a cursor to
    iterate, so an export never holds the table in memory."""
    cur = conn.execute(
        f"SELECT {_USAGE_COLS} FROM usage_events e JOIN users u ON u.id = e.user_id"
        " WHERE e.created_at >= ? AND (?2 IS NULL OR e.user_id = ?2) ORDER BY e.id",
        (since or "", user_id),
    )
    return (dict(zip(USAGE_FIELDS, r, strict=True)) for r in cur)


# ----- idempotency keys -----


@dataclass(frozen=True)
class IdempotencyRecord:
    endpoint: str
    body_hash: str
    state: str
    usage_id: int | None
    status_code: int | None
    response: bytes | None
    credits_remaining: int | None
    created_at: str


def idempotency_get(conn: Connection, user_id: int, key: str) -> IdempotencyRecord | None:
    row = conn.execute(
        "SELECT endpoint, body_hash, state, usage_id, status_code, response, credits_remaining,"
        " created_at FROM idempotency_keys WHERE user_id = ? AND key = ?",
        (user_id, key),
    ).fetchone()
    if row is None:
        return None
    return IdempotencyRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        None if row[5] is None else bytes(row[5]),
        row[6],
        row[7],
    )


def idempotency_insert(
    conn: Connection, user_id: int, key: str, endpoint: str, body_hash: str
) -> None:
    conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, endpoint, body_hash, state)"
        " VALUES (?, ?, ?, ?, 'in_progress')",
        (user_id, key, endpoint, body_hash),
    )


def idempotency_set_usage(conn: Connection, user_id: int, key: str, usage_id: int) -> None:
    conn.execute(
        "UPDATE idempotency_keys SET usage_id = ? WHERE user_id = ? AND key = ?",
        (usage_id, user_id, key),
    )


def idempotency_complete(
    conn: Connection,
    user_id: int,
    key: str,
    status_code: int,
    response: bytes,
    credits_remaining: int | None,
) -> None:
    conn.execute(
        "UPDATE idempotency_keys SET state = 'done', status_code = ?, response = ?,"
        " credits_remaining = ? WHERE user_id = ? AND key = ?",
        (status_code, response, credits_remaining, user_id, key),
    )


def idempotency_delete(conn: Connection, user_id: int, key: str) -> None:
    conn.execute("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ?", (user_id, key))


def idempotency_purge(conn: Connection, older_than: str, *, in_progress: bool = False) -> int:
    """Forget keys created before ``older_than``; with ``in_progress``, every unfinished key
    as well (at start-up: no request of this process can be running yet). On PostgreSQL other
    replicas' requests may be: an unfinished key there goes when its charge is refunded."""
    in_progress = in_progress and conn.dialect == "sqlite"
    cur = conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ? OR (? = 1 AND state = 'in_progress')",
        (older_than, int(in_progress)),
    )
    return int(cur.rowcount)
