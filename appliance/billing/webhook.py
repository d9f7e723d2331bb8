"""Applying Stripe events to credits: exactly once per checkout session, in any order.

:func:`apply_event` is a write function (it runs inside the caller's transaction: the writer
thread's savepoint, or ``transaction(conn)`` in ``billing reconcile``). The event id, the
checkout's state, the ledger row and the balance change all commit together, so a crash
either applies an event completely or not at all, and a redelivery finds its id recorded.

Why any order and any number of deliveries is safe:

- A checkout is credited through the ledger under ``('stripe', 'checkout:<session id>')``,
  which is UNIQUE: ``completed`` (paid) and ``async_payment_succeeded`` for the same session,
  however many times and in whichever order, credit it once.
- A credited session is final: a late ``completed`` (unpaid), ``async_payment_failed`` or
  ``expired`` does not move it back.
- Refunds are stored per payment intent as the highest cumulative ``amount_refunded`` seen,
  whether or not the payment has been credited yet; crediting a session applies any refund
  already on record, and each refund event claws back only what is not clawed back yet.

Amounts: credits come from the server's record of the session (the pack price list when the
session was created here, else the current ``credit_packs``), never from the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from appliance.billing.ledger import add_credits
from appliance.billing.providers import HANDLED_EVENT_TYPES
from appliance.db.connection import Connection
from appliance.db.queries import payments as q
from appliance.db.queries import users as users_q
from appliance.errors import InvalidPayload, NotFound
from appliance.settings import CreditPack

log = logging.getLogger("appliance.billing")

CREDIT_REF = "checkout:{session_id}"
CLAWBACK_REF = "refund:{session_id}:{clawed_back}"


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int | None
    obj: Mapping[str, Any]

    @property
    def metric_type(self) -> str:
        """The type as a metrics label: handled types by name, anything else as 'other'."""
        return self.type if self.type in HANDLED_EVENT_TYPES else "other"


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    type: str
    result: str
    detail: str | None = None
    user_id: int | None = None
    credits: int = 0  # the change this event made to the user's purchased balance


def parse_event(data: Mapping[str, Any]) -> WebhookEvent:
    """The parts of a Stripe event the appliance reads. Raises InvalidPayload."""
    event_id, type_, created = data.get("id"), data.get("type"), data.get("created")
    body = data.get("data")
    obj = body.get("object") if isinstance(body, Mapping) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise InvalidPayload("event has no id")
    if not isinstance(type_, str) or not type_ or len(type_) > 255:
        raise InvalidPayload("event has no type")
    if not isinstance(obj, Mapping):
        raise InvalidPayload("event has no data.object")
    if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
        raise InvalidPayload("event.created is not an integer")
    return WebhookEvent(event_id, type_, created, obj)


@dataclass(frozen=True)
class _Effect:
    result: str
    detail: str | None = None
    user_id: int | None = None
    credits: int = 0


class _Stop(Exception):
    """Ends an event's handling early with a recorded result (ignored/rejected)."""

    def __init__(self, result: str, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, Mapping):  # an expanded object: take its id
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _session(
    conn: Connection, obj: Mapping[str, Any], packs: Mapping[str, CreditPack], install_id: str
) -> q.Checkout:
    """The server's record of the event's checkout session, created from the event's
    ``client_reference_id`` and ``metadata.pack`` (priced from ``packs``) when first seen."""
    session_id = _text(obj, "id")
    if session_id is None or obj.get("object", "checkout.session") != "checkout.session":
        raise _Stop("rejected", "not a checkout session with an id")
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    owner = metadata.get("install_id")
    if isinstance(owner, str) and owner and owner != install_id:
        # One Stripe account may serve several appliances; user ids are per install.
        raise _Stop("ignored", "checkout session of another installation")
    mode = obj.get("mode")
    if mode is not None and mode != "payment":
        raise _Stop("ignored", f"checkout session in {mode} mode")
    row = q.checkout_by_id(conn, session_id)
    if row is not None:
        return row
    pack_name = metadata.get("pack")
    pack = packs.get(pack_name) if isinstance(pack_name, str) else None
    if pack is None or not isinstance(pack_name, str):
        raise _Stop("rejected", f"unknown credit pack {pack_name!r}")
    reference = _text(obj, "client_reference_id")
    if (
        reference is None
        or not (reference.isascii() and reference.isdigit())
        or len(reference) > 18
    ):
        raise _Stop("rejected", "checkout session without a user id in client_reference_id")
    user_id = int(reference)
    if users_q.by_id(conn, user_id) is None:
        raise _Stop("rejected", f"no user with id {user_id}")
    q.insert_checkout(
        conn,
        session_id,
        user_id,
        pack_name,
        pack.credits,
        pack.amount_cents,
        pack.currency,
        _text(obj, "payment_intent"),
    )
    created = q.checkout_by_id(conn, session_id)
    assert created is not None
    return created


def _credit(conn: Connection, row: q.Checkout, payment_intent: str | None) -> _Effect:
    if row.user_id is None:
        raise _Stop("rejected", "the session's user was deleted")
    ref = CREDIT_REF.format(session_id=row.session_id)
    try:
        entry = add_credits(conn, row.user_id, row.credits, "stripe", ref)
    except NotFound as exc:
        raise _Stop("rejected", exc.message) from exc
    q.set_checkout_status(conn, row.session_id, "credited", payment_intent)
    effect = _Effect(
        "credited" if entry is not None else "already_credited",
        None,
        row.user_id,
        row.credits if entry is not None else 0,
    )
    credited = q.checkout_by_id(conn, row.session_id)
    assert credited is not None
    refund = q.refund_by_intent(conn, credited.payment_intent) if credited.payment_intent else None
    if refund is None:
        return effect
    # The refund was delivered before the payment: take it back right away.
    clawed = _clawback(conn, credited, refund)
    return _Effect(
        effect.result,
        f"refund already on record: {clawed.detail}",
        row.user_id,
        effect.credits + clawed.credits,
    )


def _clawback(conn: Connection, row: q.Checkout, refund: q.Refund) -> _Effect:
    """Take back the refunded share of a credited session's credits, beyond what was taken.

    The balance may go negative (``allow_negative``): the credits may already be spent, and
    a refund is money returned, so the debt is recorded rather than forgiven; spends are then
    refused until a top-up brings the balance above zero again.
    """
    assert row.user_id is not None
    if refund.refunded_cents >= refund.amount_cents:
        target = row.credits
    else:
        target = row.credits * refund.refunded_cents // refund.amount_cents
    delta = target - row.clawed_back
    if delta <= 0:
        return _Effect("no_change", "refund already clawed back", row.user_id)
    ref = CLAWBACK_REF.format(session_id=row.session_id, clawed_back=target)
    add_credits(conn, row.user_id, -delta, "stripe", ref, allow_negative=True)
    q.set_clawed_back(conn, row.session_id, target)
    return _Effect("clawed_back", f"{delta} of {row.credits} credits", row.user_id, -delta)


_Handler = Callable[[Connection, Mapping[str, Any], Mapping[str, CreditPack], str], _Effect]


def _on_completed(
    conn: Connection, obj: Mapping[str, Any], packs: Mapping[str, CreditPack], install_id: str
) -> _Effect:
    row = _session(conn, obj, packs, install_id)
    intent = _text(obj, "payment_intent")
    if obj.get("payment_status") == "paid":
        return _credit(conn, row, intent)
    # Paid later by a delayed method (bank debit...): async_payment_succeeded will follow.
    if row.status == "open":
        q.set_checkout_status(conn, row.session_id, "pending", intent)
    return _Effect("pending", f"payment_status {obj.get('payment_status')!r}", row.user_id)


def _on_async_succeeded(
    conn: Connection, obj: Mapping[str, Any], packs: Mapping[str, CreditPack], install_id: str
) -> _Effect:
    return _credit(conn, _session(conn, obj, packs, install_id), _text(obj, "payment_intent"))


def _unpaid(status: str) -> _Handler:
    """Failed or expired: recorded on the session, nothing credited; never undoes a credit."""

    def handle(
        conn: Connection, obj: Mapping[str, Any], packs: Mapping[str, CreditPack], install_id: str
    ) -> _Effect:
        row = _session(conn, obj, packs, install_id)
        if row.status == "credited":
            return _Effect("no_change", f"already credited; not marking {status}", row.user_id)
        q.set_checkout_status(conn, row.session_id, status, _text(obj, "payment_intent"))
        return _Effect(status, None, row.user_id)

    return handle


def _on_charge_refunded(
    conn: Connection, obj: Mapping[str, Any], packs: Mapping[str, CreditPack], install_id: str
) -> _Effect:
    charge_id, intent = _text(obj, "id"), _text(obj, "payment_intent")
    amount, refunded = _int(obj, "amount"), _int(obj, "amount_refunded")
    if charge_id is None or intent is None:
        raise _Stop("ignored", "charge without an id or payment intent")
    if amount is None or refunded is None or amount <= 0 or not 0 <= refunded <= amount:
        raise _Stop("rejected", "charge without a valid amount and amount_refunded")
    refund = q.record_refund(conn, intent, charge_id, amount, refunded)
    row = q.checkout_by_intent(conn, intent)
    if row is None or row.status != "credited":
        return _Effect("refund_recorded", "no credited checkout for it (yet)")
    return _clawback(conn, row, refund)


_HANDLERS: dict[str, _Handler] = {
    "checkout.session.completed": _on_completed,
    "checkout.session.async_payment_succeeded": _on_async_succeeded,
    "checkout.session.async_payment_failed": _unpaid("failed"),
    "checkout.session.expired": _unpaid("expired"),
    "charge.refunded": _on_charge_refunded,
}


def apply_event(
    conn: Connection,
    event: WebhookEvent,
    packs: Mapping[str, CreditPack],
    install_id: str,
    via: str = "webhook",
) -> EventOutcome:
    """Apply one event and record its id, once. A write function (see the module doc)."""
    seen = q.event_by_id(conn, event.id)
    if seen is not None:
        return EventOutcome(event.id, event.type, "duplicate", f"first result: {seen.result}")
    handler = _HANDLERS.get(event.type)
    if handler is None:
        effect = _Effect("ignored", "event type not handled")
    else:
        try:
            effect = handler(conn, event.obj, packs, install_id)
        except _Stop as stop:
            effect = _Effect(stop.result, stop.detail)
    if effect.result == "rejected":
        log.warning("stripe event %s (%s) rejected: %s", event.id, event.type, effect.detail)
    q.insert_event(
        conn,
        event.id,
        event.type,
        _text(event.obj, "id"),
        effect.result,
        effect.detail,
        event.created,
        via,
    )
    return EventOutcome(
        event.id, event.type, effect.result, effect.detail, effect.user_id, effect.credits
    )
