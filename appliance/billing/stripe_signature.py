"""Verifying the ``Stripe-Signature`` header of a webhook delivery.

Stripe signs ``"{t}.{raw body}"`` with HMAC-SHA256 under the endpoint's signing secret and
sends ``Stripe-Signature: t=<unix time>,v1=<hex mac>[,v1=...][,v0=...]``; more than one ``v1``
appears while a secret is being rolled. We check the MAC over the raw bytes (never a re-encoded
JSON), accept any ``v1`` that matches, and reject timestamps older than the tolerance (replays)
and, unlike ``stripe.WebhookSignature``, also timestamps too far in the future (a captured
delivery with a forged-forward clock would otherwise stay replayable for as long as that).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from appliance.errors import ApplianceError

TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 4096
# ASCII digits only: str.isdigit() also accepts '²' and other scripts' digits, which int()
# then refuses (or reads as a number Stripe never sent).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class InvalidSignature(ApplianceError):
    status = 400
    code = "invalid_signature"


def compute(secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_header(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` value as Stripe would send it (for tests and tooling)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(secret, t, payload)}"


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """The signed timestamp of a valid delivery. Raises InvalidSignature otherwise."""
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidSignature("Stripe-Signature header too long")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise InvalidSignature("malformed timestamp in Stripe-Signature")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("Stripe-Signature lacks a timestamp or a v1 signature")
    expected = compute(secret, timestamp, payload)
    # Compare against every candidate (no early exit) so timing says nothing of which matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    if not matched:
        raise InvalidSignature("no signature matches the payload")
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise InvalidSignature("signature timestamp is too old (replayed or delayed delivery)")
    if timestamp > current + tolerance:
        raise InvalidSignature("signature timestamp is in the future")
    return timestamp
