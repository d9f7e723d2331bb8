"""The billing errors both billing parts raise (quota here; payments and licenses use them too)."""

from __future__ import annotations

from typing import Any

from appliance.errors import ApplianceError

# Where a client who ran out of credits can get more; a 402 quotes those this install has.
TOP_UP = {
    "checkout": "POST /billing/checkout/credits",
    "license": "POST /billing/licenses/redeem",
    "operator": "ask the operator of this appliance for credits",
}


def top_ups(*, checkout: bool, licenses: bool) -> dict[str, str]:
    """The ways to get credits on this install: Checkout only when payments are configured,
    license keys only when a vendor key is trusted, and always the operator."""
    offered = {"checkout": checkout, "license": licenses, "operator": True}
    return {name: how for name, how in TOP_UP.items() if offered[name]}


def _sentence(top_up: dict[str, str], allowance: bool) -> str:
    ways = []
    if "checkout" in top_up:
        ways.append(f"buy credits with {top_up['checkout']} (card checkout)")
    if "license" in top_up:
        ways.append(f"redeem a license key with {top_up['license']}")
    ways.append(top_up["operator"])
    text = "; ".join(ways[:-1]) + (" or " if len(ways) > 1 else "") + ways[-1]
    renew = " The monthly allowance renews on the 1st (UTC)." if allowance else ""
    return f"To continue: {text}.{renew}"


class QuotaExhausted(ApplianceError):
    """402: the caller's spendable credits do not cover the call. Nothing was spent."""

    status = 402
    code = "quota_exhausted"

    def __init__(
        self,
        cost: int,
        remaining: int,
        *,
        in_debt: bool = False,
        top_up: dict[str, str] | None = None,
        allowance: bool = True,
    ) -> None:
        reason = (
            "your purchased balance is negative (credits were taken back)"
            if in_debt
            else f"this call costs {cost} credit{'s' if cost != 1 else ''} and you have {remaining}"
        )
        top_up = top_up if top_up is not None else TOP_UP
        details: dict[str, Any] = {"cost": cost, "remaining": remaining, "top_up": top_up}
        super().__init__(
            f"quota exhausted: {reason}. {_sentence(top_up, allowance)}",
            details=details,
            headers={"X-Credits-Remaining": str(max(remaining, 0))},
        )


class InsufficientCredits(ApplianceError):
    """A negative adjustment (clawback) larger than the purchased balance, without
    ``allow_negative``. Nothing was changed."""

    status = 409
    code = "insufficient_credits"


class RateLimited(ApplianceError):
    status = 429
    code = "rate_limited"


class BillingDisabled(ApplianceError):
    status = 503
    code = "billing_disabled"


class IdempotencyKeyReused(ApplianceError):
    """The Idempotency-Key was first used with a different body or endpoint."""

    status = 422
    code = "idempotency_key_reused"


class IdempotencyInProgress(ApplianceError):
    """The first request with this Idempotency-Key has not finished (and is not in this
    process to wait for: e.g. it was interrupted by a restart a moment ago)."""

    status = 409
    code = "idempotency_in_progress"


class InvalidLicense(ApplianceError):
    status = 400
    code = "invalid_license"


class LicenseExpired(ApplianceError):
    status = 400
    code = "license_expired"


class LicenseWrongInstall(ApplianceError):
    status = 400
    code = "license_wrong_install"


class LicenseAlreadyRedeemed(ApplianceError):
    status = 409
    code = "license_already_redeemed"


class ClientGone(Exception):
    """The client disconnected before its answer was ready: whoever noticed it (the HTTP
    adapter, ``appliance/api/hangup.py``) cancelled the work and raises this inside it, so
    the meter refunds the charge (recorded as 499) through its one give-back path."""
