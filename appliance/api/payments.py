"""Credit top-ups: Stripe Checkout, the Stripe webhook, and offline license redemption."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import JSON
from appliance.auth import current_user
from appliance.billing.licenses import MAX_KEY_LENGTH
from appliance.billing.payments import get_payments
from appliance.context import get_ctx
from appliance.errors import InvalidPayload
from appliance.openapi import spec
from appliance.validation import parse_json

# Stripe's event payloads are a few KB; anything far larger is not Stripe.
MAX_WEBHOOK_BYTES = 1 << 20


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pack: str = Field(min_length=1, max_length=64, examples=["credits_200"])


class LicenseRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    license_key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)


@spec(
    "Start a Stripe Checkout for a credit pack; pay at checkout_url",
    body=CheckoutCreate,
    statuses=(200, 502, 503),
    tags=("billing",),
)
async def create_checkout(request: Request) -> Response:
    user = current_user(request)
    body = await parse_json(request, CheckoutCreate)
    ctx = get_ctx(request)
    session = await get_payments(ctx).checkout(ctx.db, user.id, body.pack)
    return JSON({"checkout_url": session.url, "session_id": session.session_id})


@spec(
    "Stripe webhook (signed by Stripe; no API key)",
    auth=False,
    statuses=(200, 400, 503),
    tags=("billing",),
)
async def stripe_webhook(request: Request) -> Response:
    ctx = get_ctx(request)
    # The signature covers the raw bytes, so they are read as they came, with a size cap.
    payload = bytearray()
    async for chunk in request.stream():
        payload += chunk
        if len(payload) > MAX_WEBHOOK_BYTES:
            raise InvalidPayload("webhook body too large")
    outcome = await get_payments(ctx).receive_webhook(
        ctx.db, bytes(payload), request.headers.get("stripe-signature")
    )
    return JSON({"received": True, "event_id": outcome.event_id, "result": outcome.result})


@spec(
    "Redeem an offline license key for the caller",
    body=LicenseRedeem,
    statuses=(200, 409),
    tags=("billing",),
)
async def redeem_license(request: Request) -> Response:
    user = current_user(request)
    body = await parse_json(request, LicenseRedeem)
    ctx = get_ctx(request)
    redeemed = await get_payments(ctx).redeem(ctx.db, user.id, body.license_key)
    lic = redeemed.license
    return JSON(
        {
            "license_id": lic.license_id,
            "credits": lic.credits,
            "expires": lic.expires.isoformat() if lic.expires else None,
            "quota_remaining": redeemed.balance_after,
            "purchased": redeemed.balance_after,
        }
    )


routes = [
    Route("/billing/checkout/credits", create_checkout, methods=["POST"]),
    Route("/billing/webhook", stripe_webhook, methods=["POST"]),
    Route("/billing/licenses/redeem", redeem_license, methods=["POST"]),
]
