"""Credit top-ups: Stripe Checkout, the Stripe webhook, and offline license redemption."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import reply
from appliance.auth import current_user
from appliance.billing.licenses import MAX_KEY_LENGTH
from appliance.context import get_ctx
from appliance.db.queries import payments as pq
from appliance.errors import InvalidPayload, NotFound
from appliance.openapi import spec
from appliance.validation import parse_json

# Stripe's event payloads are a few KB; anything far larger is not Stripe.
MAX_WEBHOOK_BYTES = 1 << 20


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"pack": "credits_200"}]}
    )
    pack: str = Field(min_length=1, max_length=64, examples=["credits_200"])


class LicenseRedeem(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"license_key": "APL1.eyJ....sig"}]}
    )
    license_key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)


class CheckoutOut(BaseModel):
    checkout_url: str = Field(description="Stripe's hosted payment page: send the buyer there.")
    session_id: str


class CheckoutState(BaseModel):
    session_id: str
    pack: str
    credits: int
    amount_cents: int
    currency: str
    status: str = Field(
        description="open (no word from Stripe yet), credited, pending (paid, settling),"
        " failed or expired"
    )
    created_at: str
    credited_at: str | None


class WebhookOut(BaseModel):
    received: bool
    event_id: str
    result: str


class Redeemed(BaseModel):
    license_id: str
    credits: int
    expires: str | None
    quota_remaining: int = Field(
        description="Purchased credits after the redemption (older name of `purchased`)."
    )
    purchased: int = Field(description="Purchased credits after the redemption.")


class PackOut(BaseModel):
    name: str
    credits: int
    amount_cents: int
    currency: str


class TopUps(BaseModel):
    provider: Literal["stripe", "disabled"] = Field(
        description="stripe: packs can be bought at Checkout; disabled: license keys only."
    )
    packs: list[PackOut]
    licenses: bool = Field(description="License keys can be redeemed (always true).")


@spec(
    "Start a Stripe Checkout for a credit pack; pay at checkout_url",
    body=CheckoutCreate,
    response=CheckoutOut,
    statuses=(200, 502, 503),
    tags=("billing",),
)
async def create_checkout(request: Request) -> Response:
    user = current_user(request)
    body = await parse_json(request, CheckoutCreate)
    ctx = get_ctx(request)
    session = await ctx.payments.checkout(ctx.db, user.id, body.pack)
    return reply(CheckoutOut, {"checkout_url": session.url, "session_id": session.session_id})


@spec(
    "One of the caller's Checkout sessions: what it buys and whether it is credited yet",
    response=CheckoutState,
    statuses=(200, 404),
    tags=("billing",),
)
async def checkout_state(request: Request) -> Response:
    user = current_user(request)
    session_id = str(request.path_params["session_id"])
    row = await get_ctx(request).db.read(pq.checkout_by_id, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no checkout session {session_id} of yours")
    return reply(CheckoutState, row.__dict__)


@spec(
    "How this appliance takes top-ups: credit packs and license keys",
    response=TopUps,
    tags=("billing",),
)
async def top_ups(request: Request) -> Response:
    current_user(request)
    settings = get_ctx(request).settings
    packs = [
        {"name": name, **pack.model_dump()} for name, pack in sorted(settings.credit_packs.items())
    ]
    return reply(
        TopUps,
        {"provider": settings.effective_payment_provider, "packs": packs, "licenses": True},
    )


@spec(
    "Stripe webhook (signed by Stripe; no API key)",
    response=WebhookOut,
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
    outcome = await ctx.payments.receive_webhook(
        ctx.db, bytes(payload), request.headers.get("stripe-signature")
    )
    return reply(
        WebhookOut, {"received": True, "event_id": outcome.event_id, "result": outcome.result}
    )


@spec(
    "Redeem an offline license key for the caller",
    body=LicenseRedeem,
    response=Redeemed,
    statuses=(200, 409),
    tags=("billing",),
)
async def redeem_license(request: Request) -> Response:
    user = current_user(request)
    body = await parse_json(request, LicenseRedeem)
    ctx = get_ctx(request)
    redeemed = await ctx.payments.redeem(ctx.db, user.id, body.license_key)
    lic = redeemed.license
    return reply(
        Redeemed,
        {
            "license_id": lic.license_id,
            "credits": lic.credits,
            "expires": lic.expires.isoformat() if lic.expires else None,
            "quota_remaining": redeemed.balance_after,
            "purchased": redeemed.balance_after,
        },
    )


routes = [
    Route("/billing/checkout/credits", create_checkout, methods=["POST"]),
    Route("/billing/checkout/sessions/{session_id}", checkout_state, methods=["GET"]),
    Route("/billing/packs", top_ups, methods=["GET"]),
    Route("/billing/webhook", stripe_webhook, methods=["POST"]),
    Route("/billing/licenses/redeem", redeem_license, methods=["POST"]),
]
