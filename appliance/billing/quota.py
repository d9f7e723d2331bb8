"""Spending and refunding credits; the monthly allowance.

A user has two balances: the monthly allowance (``users.allowance_remaining``, renewed to the
plan's size on the first spend of each calendar month, UTC, and never carried over) and the
purchased credits (``users.quota_remaining``: Stripe, licenses, admin grants; never expire).
A spend takes the allowance first. The spendable total is allowance + purchased, except that a
negative purchased balance (a clawback) blocks every spend until it is topped up.

Every function taking ``conn`` first is a write function for ``ctx.db.write`` (or
``transaction()``): its changes commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.billing.ledger import LEDGER_SOURCES
from appliance.db.connection import Connection, savepoint
from appliance.db.database import self_contained
from appliance.db.queries import billing as q
from appliance.db.queries.users import User
from appliance.errors import NotFound

assert "monthly" in LEDGER_SOURCES and "refund" in LEDGER_SOURCES

FREE_PLAN = "free"


def period_of(moment: datetime) -> str:
    """The allowance period ('YYYY-MM', UTC) a moment belongs to."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def next_reset(moment: datetime) -> datetime:
    """The first instant of the next calendar month, UTC: when the allowance renews."""
    m = moment.astimezone(UTC)
    year, month = (m.year + 1, 1) if m.month == 12 else (m.year, m.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def spendable(allowance: int, purchased: int) -> int:
    return allowance + purchased if purchased >= 0 else 0


@dataclass(frozen=True)
class Spent:
    usage_id: int
    cost: int
    from_allowance: int
    quota_before: int
    quota_after: int


@dataclass(frozen=True)
class Rejected:
    """Not enough credits: nothing was taken; a 'rejected' usage event records the attempt."""

    usage_id: int
    cost: int
    remaining: int
    in_debt: bool


def renew(
    conn: Connection, user_id: int, period: str, free_monthly: int | None = None
) -> int | None:
    """Renew the allowance for ``period`` if it belongs to an earlier one, recording the
    renewal in the ledger (pool 'allowance'); returns the new allowance or None.
    ``free_monthly`` is the free plan's allowance (the ``free_monthly_credits`` setting)."""
    allowance = q.renew_allowance(conn, user_id, period, free_monthly)
    if allowance is not None:
        q.insert_ledger(
            conn, user_id, "monthly", f"{period}:user:{user_id}", allowance, allowance, "allowance"
        )
    return allowance


def spend(
    conn: Connection,
    user_id: int,
    endpoint: str,
    cost: int,
    request_id: str,
    idempotency_key: str | None,
    period: str,
    free_monthly: int | None = None,
) -> Spent | Rejected:
    """Take ``cost`` credits (allowance first) and record the usage event, or record a
    rejection (402) and take nothing.

    The charge is one conditional statement (:func:`q.charge`), so no balance can go below
    zero; when the allowance is due for renewal it is renewed first. Runs inside one write
    transaction (several statements on this path: the caller's savepoint keeps them
    together). Raises NotFound for an unknown user.
    """
    if cost < 0:
        raise ValueError("a cost cannot be negative")
    charged = q.charge(conn, user_id, endpoint, request_id, idempotency_key, cost, period)
    if charged is None:
        b = q.balances(conn, user_id)
        if b is None:
            raise NotFound(f"no user with id {user_id}")
        if b.allowance_period != period:
            renew(conn, user_id, period, free_monthly)
            charged = q.charge(conn, user_id, endpoint, request_id, idempotency_key, cost, period)
    if charged is not None:
        return Spent(charged[0], cost, charged[1], charged[2], charged[3])
    b = q.balances(conn, user_id)  # as renewed, if it was
    assert b is not None
    remaining = spendable(b.allowance_remaining, b.purchased)
    usage_id = q.insert_usage(
        conn,
        user_id,
        endpoint,
        request_id,
        idempotency_key,
        cost,
        0,
        period,
        remaining,
        remaining,
        "rejected",
        402,
    )
    return Rejected(usage_id, cost, remaining, b.purchased < 0)


@self_contained
def charge(
    conn: Connection,
    user_id: int,
    endpoint: str,
    cost: int,
    request_id: str,
    period: str,
    free_monthly: int | None = None,
) -> Spent | Rejected:
    """:func:`spend` for the writer's hot path (no Idempotency-Key): the common case, an
    allowance that is current, is the one atomic statement of :func:`q.charge` and needs no
    savepoint; anything else (renewal, rejection) runs :func:`spend` in its own."""
    if cost >= 0:
        charged = q.charge(conn, user_id, endpoint, request_id, None, cost, period)
        if charged is not None:
            return Spent(charged[0], cost, charged[1], charged[2], charged[3])
    with savepoint(conn, "spend"):
        return spend(conn, user_id, endpoint, cost, request_id, None, period, free_monthly)


@dataclass(frozen=True)
class Refunded:
    usage_id: int
    user_id: int
    credits: int
    allowance_returned: int
    quota_after: int


def _give_back(
    conn: Connection, usage_id: int, charged: q.ChargedUsage
) -> tuple[Refunded, int, int]:
    """Return what a charge took: the purchased part always, the allowance part only while
    that month's allowance is current (a renewed one is already full). Returns the refund and
    the new (allowance, purchased) balances."""
    from_purchased = charged.cost - charged.from_allowance
    allowance, purchased, same_period = q.give_back(
        conn, charged.user_id, charged.from_allowance, from_purchased, charged.allowance_period
    )
    returned = charged.from_allowance if same_period else 0
    refunded = Refunded(
        usage_id,
        charged.user_id,
        from_purchased + returned,
        returned,
        spendable(allowance, purchased),
    )
    return refunded, allowance, purchased


def refund(
    conn: Connection, usage_id: int, status_code: int, duration_ms: float | None
) -> Refunded | None:
    """Give back what a charged request took and mark its event 'refunded' (exactly once:
    None when the event is not 'charged'). The purchased part always comes back; the allowance
    part only while that month's allowance is current (a renewed one is already full). Each
    part is recorded in the ledger as source 'refund', ref 'usage:ID:pool'. The request's
    Idempotency-Key, if any, is released.
    """
    charged = q.mark_refunded(conn, usage_id, status_code, duration_ms)
    if charged is None:
        return None
    refunded, allowance, purchased = _give_back(conn, usage_id, charged)
    if charged.idempotency_key is not None:
        # A refunded request has no answer to replay: release its key so a retry runs again.
        q.idempotency_delete(conn, charged.user_id, charged.idempotency_key)
    from_purchased = charged.cost - charged.from_allowance
    for pool, credits, balance in (
        ("purchased", from_purchased, purchased),
        ("allowance", refunded.allowance_returned, allowance),
    ):
        if credits:
            ref = f"usage:{usage_id}:{pool}"
            q.insert_ledger(conn, charged.user_id, "refund", ref, credits, balance, pool)
    return refunded


# Outcomes of a billable request that reached the spend but is not charged (migration 0010).
UNBILLED_STATUSES = ("no_answer", "not_indexed")


def waive(
    conn: Connection, usage_id: int, status: str, status_code: int, duration_ms: float
) -> Refunded | None:
    """A charged request turned out not to be billable (a filings question answered "no
    answer"): give back what it took and record its event with ``status`` and cost 0
    (exactly once: None when the event is not 'charged').

    Unlike :func:`refund` nothing goes to the ledger: the event now records no debit, so there
    is no credit to account for. The allowance part comes back only while that month's
    allowance is current, as in a refund. The Idempotency-Key is kept: the request was
    answered, and a retry gets the same answer (the caller stores it in this transaction).
    """
    if status not in UNBILLED_STATUSES:
        raise ValueError(f"not an unbilled status: {status!r}")
    charged = q.mark_unbilled(conn, usage_id, status, status_code, duration_ms)
    return None if charged is None else _give_back(conn, usage_id, charged)[0]


@dataclass(frozen=True)
class QuotaView:
    remaining: int
    allowance_remaining: int
    monthly_allowance: int
    purchased: int
    plan: str
    resets_at: str

    def public(self) -> dict[str, int | str]:
        return {
            "remaining": self.remaining,
            "allowance_remaining": self.allowance_remaining,
            "monthly_allowance": self.monthly_allowance,
            "purchased": self.purchased,
            "plan": self.plan,
            "resets_at": self.resets_at,
        }


def monthly_size(b: q.Balances, free_monthly: int | None) -> int:
    return free_monthly if free_monthly is not None and b.plan == FREE_PLAN else b.quota_monthly


def view(
    conn: Connection, user_id: int, now: datetime, free_monthly: int | None = None
) -> QuotaView:
    """The user's balances as of ``now`` (read-only: an allowance due for renewal is shown
    renewed, as the next spend will find it). Raises NotFound."""
    b = q.balances(conn, user_id)
    if b is None:
        raise NotFound(f"no user with id {user_id}")
    return view_from(b, now, free_monthly)


def view_from(b: q.Balances, now: datetime, free_monthly: int | None = None) -> QuotaView:
    """:func:`view` from balances already read (a user row listed with others)."""
    current = b.allowance_period == period_of(now)
    monthly = monthly_size(b, free_monthly)
    allowance = b.allowance_remaining if current else monthly
    return QuotaView(
        remaining=spendable(allowance, b.purchased),
        allowance_remaining=allowance,
        monthly_allowance=monthly,
        purchased=b.purchased,
        plan=b.plan,
        resets_at=next_reset(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def user_json(user: User, free_monthly: int | None, now: datetime | None = None) -> dict[str, Any]:
    """A user as every surface shows it (``/v1/me``, ``/v1/users``, ``users list``): who they
    are and their credits under exactly the names and figures of ``GET /v1/quota``."""
    balances = q.Balances(
        user.allowance_remaining,
        user.allowance_period,
        user.quota_remaining,
        user.quota_monthly,
        user.plan,
    )
    view = view_from(balances, now or datetime.now(UTC), free_monthly)
    return {**user.public(), **view.public()}


def refund_interrupted(conn: Connection) -> list[int]:
    """At start-up: refund the charges of requests that never finished (the process stopped
    between the spend and the response, so no client received a result for them)."""
    ids = q.unfinished_charges(conn)
    for usage_id in ids:
        refund(conn, usage_id, 499, None)
    return ids
