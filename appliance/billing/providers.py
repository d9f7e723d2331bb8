"""The payment provider seam: Stripe, or disabled (air-gapped installs, tests without keys).

Request code only sees :class:`PaymentProvider`; :func:`make_provider` picks the
implementation from settings (``payment_provider``, defaulting to Stripe exactly when a secret
key is configured), so swapping it never touches a handler. Provider calls block on the
network: callers run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from appliance.billing import stripe_signature
from appliance.billing.errors import BillingDisabled
from appliance.errors import ApplianceError, InvalidPayload
from appliance.settings import CreditPack, Settings

if TYPE_CHECKING:
    import stripe

log = logging.getLogger("appliance.billing")

# Event types the appliance acts on; reconcile asks Stripe for these only.
HANDLED_EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
)
_NETWORK_RETRIES = 2


class PaymentProviderError(ApplianceError):
    status = 502
    code = "payment_provider_error"


@dataclass(frozen=True)
class CheckoutRequest:
    user_id: int
    pack_name: str
    pack: CreditPack
    install_id: str
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str
    payment_intent: str | None


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Create a hosted payment page. Raises BillingDisabled, PaymentProviderError."""
        ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event of an authentic delivery, parsed. Raises BillingDisabled,
        InvalidSignature (bad, stale or future signature), InvalidPayload (not JSON)."""
        ...

    def recent_events(self, since: int) -> Iterator[dict[str, Any]]:
        """Handled events created at or after unix time ``since``, oldest first."""
        ...


class DisabledProvider:
    """No payments: every call says so with 503 ``billing_disabled``."""

    name = "disabled"

    def _disabled(self) -> BillingDisabled:
        return BillingDisabled(
            "payments are not configured on this appliance (set stripe_secret_key);"
            " offline license keys still work"
        )

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise self._disabled()

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        raise self._disabled()

    def recent_events(self, since: int) -> Iterator[dict[str, Any]]:
        raise self._disabled()


class StripeProvider:
    """Stripe Checkout through the official library's :class:`stripe.StripeClient`.

    ``http_client`` (a ``stripe.HTTPClient``) and ``api_base`` are the two seams tests use to
    keep Stripe's HTTP off the network.
    """

    name = "stripe"

    def __init__(
        self,
        secret_key: str | None,
        webhook_secret: str | None,
        *,
        api_base: str | None = None,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._api_base = api_base
        self._http_client = http_client
        self._client: stripe.StripeClient | None = None

    def _stripe(self) -> stripe.StripeClient:
        if not self._secret_key:
            raise BillingDisabled("stripe_secret_key is not set")
        if self._client is None:
            import stripe  # imported on first use: most installs never talk to Stripe

            self._client = stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self._api_base} if self._api_base else None,
                http_client=self._http_client,
                max_network_retries=_NETWORK_RETRIES,
            )
        return self._client

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        import stripe

        metadata = {
            "pack": request.pack_name,
            "user_id": str(request.user_id),
            "install_id": request.install_id,
        }
        pack = request.pack
        try:
            session = self._stripe().v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "client_reference_id": str(request.user_id),
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": pack.currency,
                                "unit_amount": pack.amount_cents,
                                "product_data": {"name": f"{pack.credits} credits"},
                            },
                        }
                    ],
                    "success_url": request.success_url,
                    "cancel_url": request.cancel_url,
                }
            )
        except stripe.StripeError as exc:
            log.warning("stripe checkout failed: %s", exc)
            raise PaymentProviderError(
                f"Stripe refused to create the checkout session: {exc.user_message or exc}"
            ) from exc
        if not session.url:
            raise PaymentProviderError("Stripe returned a checkout session without a URL")
        intent = session.payment_intent
        return CheckoutSession(
            session_id=session.id,
            url=session.url,
            payment_intent=intent if isinstance(intent, str) else None,
        )

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        if not self._webhook_secret:
            raise BillingDisabled("stripe_webhook_secret is not set; use `billing reconcile`")
        stripe_signature.verify(payload, signature, self._webhook_secret)
        try:
            event = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidPayload("webhook body is not JSON") from exc
        except RecursionError as exc:
            # Validly signed does not mean sane: no Stripe event nests more than a few levels.
            raise InvalidPayload("webhook body is nested too deeply") from exc
        if not isinstance(event, dict):
            raise InvalidPayload("webhook body is not a JSON object")
        return event

    def recent_events(self, since: int) -> Iterator[dict[str, Any]]:
        import stripe

        try:
            page = self._stripe().v1.events.list(
                params={"types": list(HANDLED_EVENT_TYPES), "created": {"gte": since}, "limit": 100}
            )
            # Stripe lists newest first; applying oldest first keeps the natural order.
            events = [event.to_dict(for_json=True) for event in page.auto_paging_iter()]
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused to list events: {exc}") from exc
        events.sort(key=lambda e: (int(e.get("created") or 0), str(e.get("id"))))
        yield from events


def make_provider(settings: Settings) -> PaymentProvider:
    """The provider settings ask for: Stripe when configured, else the disabled one."""
    if settings.effective_payment_provider == "stripe":
        return StripeProvider(
            settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else None,
            (
                settings.stripe_webhook_secret.get_secret_value()
                if settings.stripe_webhook_secret
                else None
            ),
            api_base=settings.stripe_api_base,
        )
    return DisabledProvider()
