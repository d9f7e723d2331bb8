"""Stripe checkouts, applied webhook events and refunds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import NOW, row_fields


@dataclass(frozen=True)
class Checkout:
    session_id: str
    user_id: int | None
    pack: str
    credits: int
    amount_cents: int
    currency: str
    status: str
    payment_intent: str | None
    clawed_back: int
    created_at: str
    credited_at: str | None


_CHECKOUT_COLS = (
    "session_id, user_id, pack, credits, amount_cents, currency, status, payment_intent,"
    " clawed_back, created_at, credited_at"
)


def _checkout(row: Any) -> Checkout:
    return Checkout(**row_fields(row))


def insert_checkout(
    conn: Connection,
    session_id: str,
    user_id: int,
    pack: str,
    credits: int,
    amount_cents: int,
    currency: str,
    payment_intent: str | None,
) -> bool:
    """Record a session as open; False (nothing changed) when it is already known."""
    cur = conn.execute(
        "INSERT INTO stripe_checkouts"
        " (session_id, user_id, pack, credits, amount_cents, currency, payment_intent)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
        (session_id, user_id, pack, credits, amount_cents, currency, payment_intent),
    )
    return bool(cur.rowcount)


def checkout_by_id(conn: Connection, session_id: str) -> Checkout | None:
    row = conn.execute(
        f"SELECT {_CHECKOUT_COLS} FROM stripe_checkouts WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else _checkout(row)


def checkout_by_intent(conn: Connection, payment_intent: str) -> Checkout | None:
    row = conn.execute(
        f"SELECT {_CHECKOUT_COLS} FROM stripe_checkouts WHERE payment_intent = ?",
        (payment_intent,),
    ).fetchone()
    return None if row is None else _checkout(row)


def set_checkout_status(
    conn: Connection, session_id: str, status: str, payment_intent: str | None
) -> None:
    """Move a session to ``status``; a credited session never moves (it is final)."""
    conn.execute(
        f"UPDATE stripe_checkouts SET status = ?,"
        f" payment_intent = coalesce(payment_intent, ?), updated_at = {NOW},"
        f" credited_at = CASE WHEN ? = 'credited' THEN {NOW} ELSE credited_at END"
        " WHERE session_id = ? AND status <> 'credited'",
        (status, payment_intent, status, session_id),
    )


def set_clawed_back(conn: Connection, session_id: str, clawed_back: int) -> None:
    conn.execute(
        f"UPDATE stripe_checkouts SET clawed_back = ?, updated_at = {NOW} WHERE session_id = ?",
        (clawed_back, session_id),
    )


# ----- events -----


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    type: str
    object_id: str | None
    result: str
    detail: str | None
    event_created: int | None
    via: str
    received_at: str


def event_by_id(conn: Connection, event_id: str) -> EventRecord | None:
    row = conn.execute(
        "SELECT event_id, type, object_id, result, detail, event_created, via, received_at"
        " FROM stripe_events WHERE event_id = ?",
        (event_id,),
    ).fetchone()
    return None if row is None else EventRecord(**row_fields(row))


def insert_event(
    conn: Connection,
    event_id: str,
    type_: str,
    object_id: str | None,
    result: str,
    detail: str | None,
    event_created: int | None,
    via: str,
) -> None:
    """Raises IntegrityError when the event id is already recorded."""
    conn.execute(
        "INSERT INTO stripe_events"
        " (event_id, type, object_id, result, detail, event_created, via)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event_id, type_, object_id, result, detail, event_created, via),
    )


# ----- refunds -----


@dataclass(frozen=True)
class Refund:
    payment_intent: str
    charge_id: str
    amount_cents: int
    refunded_cents: int


def record_refund(
    conn: Connection, payment_intent: str, charge_id: str, amount_cents: int, refunded_cents: int
) -> Refund:
    """Keep the highest refunded amount seen (Stripe's amount_refunded is cumulative, so an
    older event delivered late must not lower it). Returns the stored state."""
    row = conn.execute(
        "INSERT INTO stripe_refunds (payment_intent, charge_id, amount_cents, refunded_cents)"
        " VALUES (?, ?, ?, ?)"
        " ON CONFLICT (payment_intent) DO UPDATE SET"
        " refunded_cents = CASE WHEN excluded.refunded_cents > stripe_refunds.refunded_cents"
        "  THEN excluded.refunded_cents ELSE stripe_refunds.refunded_cents END,"
        f" updated_at = {NOW}"
        " RETURNING payment_intent, charge_id, amount_cents, refunded_cents",
        (payment_intent, charge_id, amount_cents, refunded_cents),
    ).fetchone()
    return Refund(**row_fields(row))


def refund_by_intent(conn: Connection, payment_intent: str) -> Refund | None:
    row = conn.execute(
        "SELECT payment_intent, charge_id, amount_cents, refunded_cents"
        " FROM stripe_refunds WHERE payment_intent = ?",
        (payment_intent,),
    ).fetchone()
    return None if row is None else Refund(**row_fields(row))
