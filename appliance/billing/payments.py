"""The payments service: the seam the payment handlers and ``billing reconcile`` use.

It joins the provider (Stripe or disabled, chosen by config), the webhook's event handling,
the license verifier and the metrics; handlers only parse, call and format.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.billing import licenses, webhook
from appliance.billing.providers import (
    CheckoutRequest,
    CheckoutSession,
    PaymentProvider,
    make_provider,
)
from appliance.billing.webhook import EventOutcome
from appliance.db.connection import Connection
from appliance.db.database import Database, SyncDatabase
from appliance.db.queries import payments as q
from appliance.db.queries import users as users_q
from appliance.errors import ApplianceError, InvalidPayload, NotFound
from appliance.metrics import Metrics
from appliance.settings import Settings

log = logging.getLogger("appliance.billing")


class UnknownPack(InvalidPayload):
    code = "unknown_pack"


@dataclass(frozen=True)
class ReconcileReport:
    seen: int
    outcomes: list[EventOutcome]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for outcome in self.outcomes:
            out[outcome.result] = out.get(outcome.result, 0) + 1
        return out


class Payments:
    """One per app (``ctx.payments``) or per CLI command; holds no mutable state
    beyond the provider's lazily made Stripe client, so it is safe across threads."""

    def __init__(
        self,
        settings: Settings,
        install_id: str,
        *,
        provider: PaymentProvider | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.install_id = install_id
        self.provider = provider if provider is not None else make_provider(settings)
        self.metrics = metrics
        self.trusted_keys: dict[str, Ed25519PublicKey] = licenses.parse_public_keys(
            settings.license_public_keys
        )

    # ----- Stripe Checkout -----
    async def checkout(self, db: Database, user_id: int, pack_name: str) -> CheckoutSession:
        """Create a Checkout Session for one of the configured packs and remember it."""
        pack = self.settings.credit_packs.get(pack_name)
        if pack is None:
            raise UnknownPack(
                f"unknown credit pack {pack_name!r}",
                details={"packs": sorted(self.settings.credit_packs)},
            )
        request = CheckoutRequest(
            user_id=user_id,
            pack_name=pack_name,
            pack=pack,
            install_id=self.install_id,
            success_url=self.settings.checkout_success_url,
            cancel_url=self.settings.checkout_cancel_url,
        )
        session = await asyncio.to_thread(self.provider.create_checkout, request)
        await db.write(
            q.insert_checkout,
            session.session_id,
            user_id,
            pack_name,
            pack.credits,
            pack.amount_cents,
            pack.currency,
            session.payment_intent,
        )
        return session

    # ----- the webhook -----
    async def receive_webhook(
        self, db: Database, payload: bytes, signature: str | None
    ) -> EventOutcome:
        """Verify, then apply the event in one write. Raises BillingDisabled, InvalidSignature,
        InvalidPayload; a storage failure propagates (500, so Stripe delivers again)."""
        try:
            event = webhook.parse_event(self.provider.verify_webhook(payload, signature))
        except ApplianceError as exc:
            self._count_event("unknown", exc.code)
            raise
        seen = await db.read(q.event_by_id, event.id)
        if seen is not None:
            # Redeliveries answered from a read, without queueing behind writes; the write
            # path checks again, so a race between two first deliveries is still safe.
            outcome = EventOutcome(event.id, event.type, "duplicate", f"first: {seen.result}")
        else:
            outcome = await db.write(
                webhook.apply_event, event, self.settings.credit_packs, self.install_id, "webhook"
            )
        self._count_event(event.metric_type, outcome.result)
        return outcome

    def reconcile(self, db: SyncDatabase, since: int) -> ReconcileReport:
        """Apply the events of the last days that the webhook missed (CLI; sync).

        Each event commits in its own transaction, like a webhook delivery, so one bad event
        does not hold back the rest; events already applied come back as duplicates.
        """
        outcomes: list[EventOutcome] = []
        seen = 0
        for data in self.provider.recent_events(since):
            seen += 1
            try:
                event = webhook.parse_event(data)
            except InvalidPayload as exc:
                log.warning("skipping a malformed event from Stripe: %s", exc.message)
                continue
            outcome = db.write(
                webhook.apply_event, event, self.settings.credit_packs, self.install_id, "reconcile"
            )
            self._count_event(event.metric_type, outcome.result)
            outcomes.append(outcome)
        return ReconcileReport(seen, outcomes)

    # ----- offline licenses -----
    def check_license(self, key: str, today: date | None = None) -> licenses.License:
        """Signature, expiry and install checks (no database). Raises the license errors."""
        lic = licenses.verify(key, self.trusted_keys)
        licenses.check_applicable(lic, self.install_id, today)
        return lic

    async def redeem(self, db: Database, user_id: int, key: str) -> licenses.Redeemed:
        """Verify and redeem for ``user_id``; the redemption row, ledger row and balance
        change commit together. Raises the license errors (400/409)."""
        try:
            lic = self.check_license(key)
            result = await db.write(licenses.redeem, lic, user_id)
        except ApplianceError as exc:
            self._count_license(exc.code)
            raise
        self._count_license("redeemed")
        return result

    def redeem_for_email(self, db: SyncDatabase, email: str, key: str) -> licenses.Redeemed:
        """The CLI's redemption: resolving the user and redeeming in one transaction."""
        return db.write(_redeem_for_email, self.check_license(key), email)

    # ----- metrics -----
    def _count_event(self, type_: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook_events.labels(type_, result).inc()

    def _count_license(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.license_redemptions.labels(result).inc()


def _redeem_for_email(conn: Connection, lic: licenses.License, email: str) -> licenses.Redeemed:
    user = users_q.by_email(conn, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return licenses.redeem(conn, lic, user.id)
