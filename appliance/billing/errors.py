"""The billing errors both billing parts raise (quota here; payments and licenses use them too)."""

from __future__ import annotations

from typing import Any

from appliance.errors import ApplianceError

# Where a client who ran out of credits can get more; quoted in every 402.
TOP_UP = {
    "checkout": "POST /billing/checkout/credits",
    "license": "POST /billing/licenses/redeem",
}


class QuotaExhausted(ApplianceError):
    """402: the caller's spendable credits do not cover the call. Nothing was spent."""

    status = 402
    code = "quota_exhausted"

    def __init__(self, cost: int, remaining: int, *, in_debt: bool = False) -> None:
        reason = (
            "your purchased balance is negative (credits were taken back)"
            if in_debt
            else f"this call costs {cost} credit{'s' if cost != 1 else ''} and you have {remaining}"
        )
        details: dict[str, Any] = {"cost": cost, "remaining": remaining, "top_up": TOP_UP}
        super().__init__(
            f"quota exhausted: {reason}. Top up with {TOP_UP['checkout']} (card checkout) or"
            f" redeem a license key with {TOP_UP['license']}; the monthly allowance renews on"
            " the 1st (UTC).",
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
